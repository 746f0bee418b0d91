// The rate-limit phase of a request: between route_request (the route is
// known, nothing is rewritten yet) and choose_server. The counting itself is
// core/state/rate_limiter.h; this file decides what a request's key is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/state/rate_limiter.h"
#include "l7/filter.h"
#include "l7/http_message.h"

namespace lbd::l7 {

struct RateLimitRefusal {
    const RateLimitZone* zone = nullptr;
    uint32_t retry_after_s = 1;  // the Retry-After header, whole seconds, >= 1
};

// The zones of one listener, resolved from their names once (when the
// listener is built), so a request walks pointers, not names.
class ListenerRateLimits {
public:
    ListenerRateLimits(const RateLimitZones& zones, const ListenerConfig& listener);

    // Counts `request` against the listener's zones, then its route's
    // (`route` is one of the listener's routes, or null), and stops at the
    // first that refuses. A zone whose key the request lacks (no such
    // header) is skipped.
    std::optional<RateLimitRefusal> check(const HttpRouteConfig* route, const RequestInfo& request,
                                          const SocketAddress& peer) const;

private:
    const HttpConfig& http_;
    std::vector<RateLimitZone*> listener_zones_;
    std::vector<std::vector<RateLimitZone*>> route_zones_;  // by route index
    bool any_ = false;
};

// The rate-limit request filter (filter.h): runs first, on the matched
// route before the router acts on it, and answers the refusing zone's status
// (429 by default) with Retry-After and the listener's error body.
class RateLimitFilter final : public RequestFilter {
public:
    explicit RateLimitFilter(const ListenerRateLimits& limits, const HttpConfig& http)
        : limits_(limits), http_(http) {}
    FilterResult on_request_head(Exchange& exchange) override;

private:
    const ListenerRateLimits& limits_;
    const HttpConfig& http_;
};

// The key of `request` in `zone`; empty when it has none. CLIENT_IP: the
// address bytes (an IPv6 address cut to the zone's prefix), the peer's or,
// when the peer is a trusted proxy, the closest untrusted X-Forwarded-For
// entry (read from the right, as nginx's realip_recursive).
std::string rate_limit_key(const HttpRateLimitZoneConfig& zone, const HttpForwardedConfig& forwarded,
                           const RequestInfo& request, const SocketAddress& peer);

}  // namespace lbd::l7
