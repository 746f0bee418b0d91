#include "l7/route_filter.h"

#include <string>

#include "l7/header_filters.h"
#include "l7/http_listener.h"
#include "l7/router.h"
#include "l7/weighted_split.h"

namespace lbd::l7 {
namespace {

// The route's path rewrite; the path as sent is kept for $request_uri and the groups.
void rewrite(const HttpRouteConfig& route, Exchange& exchange) {
    const bool prefix = route.strip_path_prefix || !route.replace_path_prefix.empty();
    if (!prefix && !route.rewrite_path.dynamic()) return;
    exchange.original_path = exchange.request.path;
    if (prefix) return rewrite_path(route, exchange.request);
    rewrite_path_template(route, variable_source(exchange), exchange.request);
}

}  // namespace

VariableSource variable_source(Exchange& exchange) {
    const std::string_view subject = exchange.groups.of_host ? std::string_view(exchange.request.host)
                                     : !exchange.original_path.empty() ? std::string_view(exchange.original_path)
                                                                       : std::string_view(exchange.request.path);
    return VariableSource{exchange.request, exchange.client, exchange.original_path, &exchange.groups, subject,
                          &exchange.request_id};
}

LocalAnswer route_answer(const HttpRouteConfig& route, const RequestInfo& request, std::string_view scheme,
                         const VariableSource* vars) {
    LocalAnswer answer;
    answer.term = Termination::kLocal;
    if (route.action == HttpRouteAction::kRedirect) {
        answer.status = route.redirect.status;
        answer.content_type = "text/plain; charset=utf-8";
        answer.body = std::to_string(route.redirect.status) + " " + reason_phrase(route.redirect.status) + "\n";
        answer.headers.emplace_back("Location", redirect_location(route.redirect, request, scheme, vars));
    } else {
        answer.status = route.respond.status;
        answer.content_type = route.respond.content_type;
        answer.body = route.respond.body;
    }
    return answer;
}

FilterResult RouteFilter::on_request_head(Exchange& exchange) {
    const HttpRouteConfig* route = exchange.route;
    if (route == nullptr) {
        exchange.pool = listener_.default_pool();
    } else {
        switch (route->action) {
            case HttpRouteAction::kRedirect:
            case HttpRouteAction::kRespond: {
                const VariableSource vars = variable_source(exchange);
                return FilterResult::respond(route_answer(*route, exchange.request, exchange.client.scheme, &vars));
            }
            case HttpRouteAction::kPool: exchange.pool = listener_.pool(route->pool); break;
            case HttpRouteAction::kStatic:
                // No pool: the driver serves the file (static_files.h) after the
                // other request filters (access, auth, rate limits) let it.
                rewrite(*route, exchange);
                return FilterResult::next();
            case HttpRouteAction::kSplit:
                exchange.pool = choose_split_pool(listener_.split(*route), listener_, worker_, exchange.request,
                                                  exchange.client.peer);
                break;
        }
        rewrite(*route, exchange);
    }
    if (exchange.pool != nullptr) return FilterResult::next();
    LocalAnswer answer;
    answer.status = 404;
    std::tie(answer.content_type, answer.body) = error_body(listener_.http(), 404);
    answer.term = Termination::kNoRoute;
    return FilterResult::respond(std::move(answer));
}

}  // namespace lbd::l7
