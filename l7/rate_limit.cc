#include "l7/rate_limit.h"

#include <algorithm>
#include <string_view>
#include <tuple>

#include "core/loop/event.h"
#include "l7/http1.h"

namespace lbd::l7 {
namespace {

std::string address_key(const SocketAddress& address, uint32_t ipv6_prefix_length) {
    std::string bytes(address.unmapped().ip_bytes());
    if (bytes.size() == 16 && ipv6_prefix_length < 128) {
        for (size_t bit = ipv6_prefix_length; bit < 128; ++bit)
            bytes[bit / 8] = static_cast<char>(bytes[bit / 8] & ~(0x80 >> (bit % 8)));
    }
    return bytes;
}

}  // namespace

std::string rate_limit_key(const HttpRateLimitZoneConfig& zone, const HttpForwardedConfig& forwarded,
                           const RequestInfo& request, const SocketAddress& peer) {
    switch (zone.key) {
        case HttpRateLimitKey::kClientIp:
            return address_key(client_address(forwarded, request, peer), zone.ipv6_prefix_length);
        case HttpRateLimitKey::kHeader:
            if (const std::string* value = find_header(request.headers, zone.header)) return *value;
            return {};
    }
    return {};
}

ListenerRateLimits::ListenerRateLimits(const RateLimitZones& zones, const ListenerConfig& listener)
    : http_(listener.http) {
    // The loader checked that every name is a zone of this listener.
    auto resolve = [&](const std::vector<std::string>& names) {
        std::vector<RateLimitZone*> out;
        for (const std::string& name : names)
            if (RateLimitZone* zone = zones.find(listener.name, name)) out.push_back(zone);
        any_ = any_ || !out.empty();
        return out;
    };
    listener_zones_ = resolve(http_.rate_limits);
    for (const HttpRouteConfig& route : http_.routes) route_zones_.push_back(resolve(route.rate_limits));
}

std::optional<RateLimitRefusal> ListenerRateLimits::check(const HttpRouteConfig* route, const RequestInfo& request,
                                                          const SocketAddress& peer) const {
    if (!any_) return std::nullopt;
    const uint64_t now_us = monotonic_us();
    auto count = [&](RateLimitZone* zone) -> std::optional<RateLimitRefusal> {
        const std::string key = rate_limit_key(zone->config(), http_.forwarded, request, peer);
        if (key.empty()) return std::nullopt;
        const RateDecision decision = zone->check(key, now_us);
        if (decision.allowed) return std::nullopt;
        const uint64_t seconds = (decision.retry_after_us + 999'999) / 1'000'000;
        return RateLimitRefusal{zone, static_cast<uint32_t>(std::max<uint64_t>(1, seconds))};
    };
    for (RateLimitZone* zone : listener_zones_)
        if (auto refusal = count(zone)) return refusal;
    if (route != nullptr)
        for (RateLimitZone* zone : route_zones_.at(static_cast<size_t>(route - http_.routes.data())))
            if (auto refusal = count(zone)) return refusal;
    return std::nullopt;
}

FilterResult RateLimitFilter::on_request_head(Exchange& exchange) {
    auto refused = limits_.check(exchange.route, exchange.request, exchange.client.peer);
    if (!refused) return FilterResult::next();
    LocalAnswer answer;
    answer.status = refused->zone->config().status;
    std::tie(answer.content_type, answer.body) = error_body(http_, answer.status);
    answer.headers.emplace_back("Retry-After", std::to_string(refused->retry_after_s));
    answer.term = Termination::kRateLimited;
    return FilterResult::respond(std::move(answer));
}

}  // namespace lbd::l7
