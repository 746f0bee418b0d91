#include "l7/header_filters.h"

#include <string>

namespace lbd::l7 {

FilterResult RequestHeadersFilter::on_request_head(Exchange& exchange) {
    RequestInfo& request = exchange.request;
    add_forwarding_headers(request, http_.forwarded, exchange.client);
    if (exchange.route != nullptr) apply_header_actions(request.headers, exchange.route->request_headers);
    apply_header_actions(request.headers, http_.request_headers);
    return FilterResult::next();
}

FilterResult ResponseHeadersFilter::on_response_head(Exchange& exchange) {
    HeaderList& headers = exchange.response.headers;
    if (http_.hide_server_headers) {
        remove_header(headers, "server");
        remove_header(headers, "x-powered-by");
    }
    if (exchange.route != nullptr) apply_header_actions(headers, exchange.route->response_headers);
    apply_header_actions(headers, http_.response_headers);
    if (http_.forwarded.via) {
        const std::string* via = find_header(headers, "via");
        std::string value = (via != nullptr ? *via + ", " : std::string()) + "1.1 lbd";
        set_header(headers, "Via", value);
    }
    return FilterResult::next();
}

}  // namespace lbd::l7
