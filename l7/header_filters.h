// Header rewriting as filters (filter.h): what the proxy adds to and removes
// from a request on its way to a server, and from a response on its way to
// the client. Pure work on the Exchange's owned heads; no sockets.
#pragma once

#include "core/config/config_http.h"
#include "l7/filter.h"

namespace lbd::l7 {

// http.request_id: the id a trusted client sent (keep_trusted), or a new one, unless the exchange
// has one already. The exchange driver calls it once a route is matched, before any filter, so every
// answer (a 403, 401 or 429 too) is logged with the id.
void assign_request_id(const HttpConfig& http, Exchange& exchange);

// X-Forwarded-*, X-Real-IP, Forwarded, Via (http.forwarded), the request id
// (http.request_id), then the route's request header actions, then the
// listener's, their variables expanded (variables.h). Runs after the
// router: only requests that go to a server need them.
class RequestHeadersFilter final : public RequestFilter {
public:
    explicit RequestHeadersFilter(const HttpConfig& http) : http_(http) {}
    FilterResult on_request_head(Exchange& exchange) override;

private:
    const HttpConfig& http_;
};

// hide_server_headers (Server, X-Powered-By), the route's Set-Cookie,
// Location and Refresh rewrites (response_rewrite.h), the route's response
// header actions, the listener's, then Via when http.forwarded.via asks for it.
// (Local answers get the same header actions from local_response.)
class ResponseHeadersFilter final : public ResponseFilter {
public:
    explicit ResponseHeadersFilter(const HttpConfig& http) : http_(http) {}
    FilterResult on_response_head(Exchange& exchange) override;

private:
    const HttpConfig& http_;
};

}  // namespace lbd::l7
