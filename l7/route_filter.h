// The router as the last request filter that may answer (filter.h): the
// route matched for the Exchange (router.h's match_route, before the
// filters, so rate limits can count per route) either answers locally
// (redirect, fixed response) or names the pool (a split: by weight or by
// the client's stickiness cookie), and its path rewrite is applied. No
// route and no default pool: 404.
#pragma once

#include "l7/filter.h"
#include "l7/variables.h"

namespace lbd::l7 {

class HttpListener;
class L7Worker;

class RouteFilter final : public RequestFilter {
public:
    // The listener's pools and split routes, on `worker` (its pickers).
    RouteFilter(HttpListener& listener, L7Worker& worker) : listener_(listener), worker_(worker) {}
    FilterResult on_request_head(Exchange& exchange) override;

private:
    HttpListener& listener_;
    L7Worker& worker_;
};

// The answer of `route`'s redirect or fixed response to `request`, which
// came over `scheme`; `vars` expands a redirect location's variables.
LocalAnswer route_answer(const HttpRouteConfig& route, const RequestInfo& request, std::string_view scheme,
                         const VariableSource* vars = nullptr);

// What the variables of templates read for `exchange` (variables.h).
VariableSource variable_source(Exchange& exchange);

// The timeouts of `exchange`'s requests to a server: its route's (the
// listener's with the route's overrides, made at load) or the listener's.
// Every timer of a request reads its value through here.
inline const HttpTimeoutsConfig& effective_timeouts(const HttpConfig& http, const Exchange& exchange) {
    return exchange.route != nullptr ? exchange.route->timeouts : http.timeouts;
}

}  // namespace lbd::l7
