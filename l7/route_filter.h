// The router as the last request filter that may answer (filter.h): the
// route matched for the Exchange (router.h's match_route, before the
// filters, so rate limits can count per route) either answers locally
// (redirect, fixed response) or names the pool (a split: by weight or by
// the client's stickiness cookie), and its path rewrite is applied. No
// route and no default pool: 404.
#pragma once

#include "l7/filter.h"

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
// came over `scheme`.
LocalAnswer route_answer(const HttpRouteConfig& route, const RequestInfo& request, std::string_view scheme);

}  // namespace lbd::l7
