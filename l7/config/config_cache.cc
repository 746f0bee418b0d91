// Checks the response cache's config: the zones (Global.cache_zones) and a
// route's `cache` block (lbd.v1.RouteCache). Part of the config loader
// (l7_config_module.cc registers the zones; config_http.cc calls the route
// check; the zone names a route uses are checked across sections).
#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

constexpr uint64_t kMinZoneBytes = 64 * 1024;

// Statuses nginx caches for `proxy_cache_valid TIME` without codes.
const std::vector<uint16_t> kDefaultValidStatuses = {200, 301, 302};

std::vector<std::string> lower_header_names(const google::protobuf::RepeatedPtrField<std::string>& names,
                                            const Node& node, int field, Errors& errors) {
    std::vector<std::string> out;
    for (int i = 0; i < names.size(); ++i) {
        std::string name = names.Get(i);
        std::transform(name.begin(), name.end(), name.begin(), http1::to_lower_ascii);
        if (!is_token(name)) errors.add(node.at(field, i), "cache: bad header name " + quote(names.Get(i)));
        out.push_back(std::move(name));
    }
    return out;
}

// CacheZone.tag_header and strip_tag_header.
void check_tag_header(const pb::CacheZone& zone, const Node& at, const std::string& what, CacheZoneConfig& typed,
                      Errors& errors) {
    using F = pb::CacheZone;
    typed.tag_header = zone.tag_header();
    std::transform(typed.tag_header.begin(), typed.tag_header.end(), typed.tag_header.begin(),
                   http1::to_lower_ascii);
    if (!typed.tag_header.empty() && !is_token(typed.tag_header))
        errors.add(at.at(F::kTagHeaderFieldNumber), what + ": bad tag_header name " + quote(zone.tag_header()));
    typed.strip_tag_header = !zone.has_strip_tag_header() || zone.strip_tag_header();
    if (zone.has_strip_tag_header() && typed.tag_header.empty())
        errors.add(at.at(F::kStripTagHeaderFieldNumber), what + ": strip_tag_header without a tag_header");
}

// RouteCache.use_stale: the failures (HttpCacheStaleOn bits) and the window.
void check_use_stale(const pb::CacheUseStale& msg, const Node& node, HttpRouteCache& out, Errors& errors) {
    using F = pb::CacheUseStale;
    static constexpr std::pair<std::string_view, uint8_t> kOn[] = {
        {"error", kStaleOnError},       {"timeout", kStaleOnTimeout},   {"http_500", kStaleOnHttp500},
        {"http_502", kStaleOnHttp502}, {"http_503", kStaleOnHttp503}, {"http_504", kStaleOnHttp504},
        {"updating", kStaleOnUpdating}};
    if (msg.on_size() > 0) out.stale_on = 0;
    for (int i = 0; i < msg.on_size(); ++i) {
        const auto* it = std::find_if(std::begin(kOn), std::end(kOn), [&](const auto& e) { return e.first == msg.on(i); });
        if (it == std::end(kOn))
            errors.add(node.at(F::kOnFieldNumber, i), "cache use_stale: unknown failure " + quote(msg.on(i)) +
                                                          " (error, timeout, http_500, http_502, http_503, http_504, updating)");
        else
            out.stale_on |= it->second;
    }
    constexpr uint32_t kMaxWindowMs = 30u * 24 * 3600 * 1000;
    out.stale_if_error_ms = msg.if_error_ms();
    if (out.stale_if_error_ms > kMaxWindowMs)
        errors.add(node.at(F::kIfErrorMsFieldNumber), "cache use_stale: if_error_ms is over 30 days");
    out.stale_while_revalidate_ms = msg.while_revalidate_ms();
    if (out.stale_while_revalidate_ms > kMaxWindowMs)
        errors.add(node.at(F::kWhileRevalidateMsFieldNumber), "cache use_stale: while_revalidate_ms is over 30 days");
}

}  // namespace

std::vector<CacheZoneConfig> check_cache_zones(const pb::Global& msg, const Node& node, Errors& errors) {
    using F = pb::CacheZone;
    std::vector<CacheZoneConfig> out;
    NameSet names;
    for (int i = 0; i < msg.cache_zones_size(); ++i) {
        const pb::CacheZone& zone = msg.cache_zones(i);
        const Node at = node.child(pb::Global::kCacheZonesFieldNumber, i);
        check_name("cache zone", zone.name(), at.at(F::kNameFieldNumber), names, "", errors);
        CacheZoneConfig typed;
        typed.name = zone.name();
        typed.max_bytes = zone.max_bytes() != 0 ? zone.max_bytes() : typed.max_bytes;
        typed.max_object_bytes = zone.max_object_bytes() != 0 ? zone.max_object_bytes() : typed.max_object_bytes;
        const std::string what = label("cache zone", zone.name(), i);
        if (typed.max_bytes < kMinZoneBytes)
            errors.add(at.at(F::kMaxBytesFieldNumber),
                       what + ": max_bytes " + std::to_string(typed.max_bytes) + " is below the minimum 65536");
        else if (typed.max_object_bytes > typed.max_bytes / 4)
            errors.add(at.at(F::kMaxObjectBytesFieldNumber),
                       what + ": max_object_bytes " + std::to_string(typed.max_object_bytes) +
                           " is more than a quarter of max_bytes (" + std::to_string(typed.max_bytes) + ")");
        check_tag_header(zone, at, what, typed, errors);
        out.push_back(std::move(typed));
    }
    return out;
}

HttpRouteCache check_route_cache(const pb::RouteCache& msg, const Node& node, bool forwards, Errors& errors) {
    using F = pb::RouteCache;
    HttpRouteCache out;
    out.zone = msg.zone();
    if (out.zone.empty()) errors.add(node.self(), "route cache needs a zone");
    if (!forwards) errors.add(node.self(), "route cache: only a route that forwards (pool, split) can cache");
    out.key_headers = lower_header_names(msg.key_headers(), node, F::kKeyHeadersFieldNumber, errors);
    out.key_cookie = msg.key_cookie();
    out.bypass_headers = lower_header_names(msg.bypass_headers(), node, F::kBypassHeadersFieldNumber, errors);
    out.bypass_cookies.assign(msg.bypass_cookies().begin(), msg.bypass_cookies().end());
    for (int i = 0; i < msg.valid_size(); ++i) {
        const pb::CacheValid& valid = msg.valid(i);
        const Node at = node.child(F::kValidFieldNumber, i);
        HttpCacheValid typed;
        typed.ttl_ms = valid.ttl_ms();
        if (typed.ttl_ms == 0) errors.add(at.self(), "cache valid: ttl_ms must be > 0");
        for (int j = 0; j < valid.statuses_size(); ++j) {
            const uint32_t status = valid.statuses(j);
            if (status < 200 || status > 599 || status == 206)
                errors.add(at.at(pb::CacheValid::kStatusesFieldNumber, j),
                           "cache valid: status " + std::to_string(status) + " cannot be cached (200..599, not 206)");
            typed.statuses.push_back(static_cast<uint16_t>(status));
        }
        if (typed.statuses.empty()) typed.statuses = kDefaultValidStatuses;
        out.valid.push_back(std::move(typed));
    }
    out.store_set_cookie = msg.store_set_cookie();
    out.status_headers = !msg.has_status_headers() || msg.status_headers();
    out.check_extension_type = !msg.has_check_extension_type() || msg.check_extension_type();
    if (msg.has_use_stale()) check_use_stale(msg.use_stale(), node.child(F::kUseStaleFieldNumber), out, errors);
    return out;
}

void check_route_cache_zones(const Config& config, const Node& root, Errors& errors) {
    for (size_t l = 0; l < config.listeners.size(); ++l) {
        const auto& routes = config.listeners[l].http.routes;
        for (size_t r = 0; r < routes.size(); ++r) {
            const std::string& zone = routes[r].cache.zone;
            if (zone.empty()) continue;
            const auto& zones = config.global.cache_zones;
            if (std::any_of(zones.begin(), zones.end(), [&](const CacheZoneConfig& z) { return z.name == zone; }))
                continue;
            const Node route = root.child(pb::Config::kListenersFieldNumber, static_cast<int>(l))
                                   .child(pb::Listener::kHttpFieldNumber)
                                   .child(pb::Http::kRoutesFieldNumber, static_cast<int>(r));
            errors.add(route.child(pb::Route::kCacheFieldNumber).at(pb::RouteCache::kZoneFieldNumber),
                       "unknown cache zone " + quote(zone) + " (define it in global.cache_zones)");
        }
    }
}

}  // namespace lbd::config_check
