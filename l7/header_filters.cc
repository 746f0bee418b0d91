#include "l7/header_filters.h"

#include <algorithm>
#include <string>

#include "l7/response_rewrite.h"
#include "l7/route_filter.h"

namespace lbd::l7 {
void assign_request_id(const HttpConfig& http, Exchange& exchange) {
    if (http.request_id_header.empty() || !exchange.request_id.empty()) return;
    if (http.request_id_keep_trusted && trusted_proxy(http.forwarded, exchange.client.peer))
        if (const std::string* sent = find_header(exchange.request.headers, http.request_id_header))
            exchange.request_id.take(*sent);
    if (exchange.request_id.empty()) exchange.request_id.generate();
}

FilterResult RequestHeadersFilter::on_request_head(Exchange& exchange) {
    RequestInfo& request = exchange.request;
    add_forwarding_headers(request, http_.forwarded, exchange.client);
    if (!http_.request_id_header.empty()) set_header(request.headers, http_.request_id_header, exchange.request_id.view());
    const VariableSource vars = variable_source(exchange);
    if (exchange.route != nullptr) apply_header_actions(request.headers, exchange.route->request_headers, &vars);
    apply_header_actions(request.headers, http_.request_headers, &vars);
    return FilterResult::next();
}

FilterResult ResponseHeadersFilter::on_response_head(Exchange& exchange) {
    HeaderList& headers = exchange.response.headers;
    if (http_.hide_server_headers) {
        remove_header(headers, "server");
        remove_header(headers, "x-powered-by");
    }
    const VariableSource vars = variable_source(exchange);
    if (exchange.route != nullptr && exchange.route->rewrites_response()) {
        const std::string authority = exchange.server != nullptr ? exchange.server->address().to_string() : "";
        const RedirectContext context{authority, exchange.client.scheme, exchange.request.host_header};
        rewrite_response_headers(*exchange.route, headers, context);
    }
    if (exchange.route != nullptr) apply_header_actions(headers, exchange.route->response_headers, &vars);
    apply_header_actions(headers, http_.response_headers, &vars);
    if (http_.forwarded.via) {
        const std::string* via = find_header(headers, "via");
        std::string value = (via != nullptr ? *via + ", " : std::string()) + "1.1 lbd";
        set_header(headers, "Via", value);
    }
    return FilterResult::next();
}

}  // namespace lbd::l7
