// The rate-limit phase of a request: between route_request (the route is
// known, nothing is rewritten yet) and choose_server. The counting itself is
// core/rate_limiter.h; this file decides what a request's key is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/rate_limiter.h"
#include "l7/http_message.h"

namespace lbd::l7 {

struct RateLimitRefusal {
    const RateLimitZone* zone = nullptr;
    uint32_t retry_after_s = 1;  // the Retry-After header, whole seconds, >= 1
};

// Counts `request` against the listener's zones, then its route's, and stops
// at the first that refuses. A zone whose key the request lacks (no such
// header) is skipped. `now_us`: CLOCK_MONOTONIC microseconds.
std::optional<RateLimitRefusal> check_rate_limits(const RateLimitZones& zones, const ListenerConfig& listener,
                                                  const HttpRouteConfig* route, const RequestInfo& request,
                                                  const SocketAddress& peer, uint64_t now_us);

// The key of `request` in `zone`; empty when it has none. CLIENT_IP: the
// address bytes (an IPv6 address cut to the zone's prefix), the peer's or,
// when the peer is a trusted proxy, the closest untrusted X-Forwarded-For
// entry (read from the right, as nginx's realip_recursive).
std::string rate_limit_key(const HttpRateLimitZoneConfig& zone, const HttpForwardedConfig& forwarded,
                           const RequestInfo& request, const SocketAddress& peer);

}  // namespace lbd::l7
