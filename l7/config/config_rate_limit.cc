// Checks a listener's rate-limit zones (lbd.v1.RateLimitZone) and the names
// that refer to them. Part of the config loader (config_http.cc calls it).
#include <algorithm>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

constexpr uint32_t kMaxCapacity = 10'000'000;

HttpRateLimitZoneConfig check_zone(const pb::RateLimitZone& msg, const Node& node, int index, NameSet& names,
                                   Errors& errors) {
    using F = pb::RateLimitZone;
    HttpRateLimitZoneConfig out;
    out.name = msg.name();
    check_name("rate-limit zone", msg.name(), node.at(F::kNameFieldNumber), names, "", errors);
    const std::string what = label("rate-limit zone", msg.name(), index);
    switch (msg.key()) {
        case pb::RATE_LIMIT_KEY_CLIENT_IP:
            out.key = HttpRateLimitKey::kClientIp;
            if (!msg.header().empty())
                errors.add(node.at(F::kHeaderFieldNumber), what + ": header is for key RATE_LIMIT_KEY_HEADER");
            break;
        case pb::RATE_LIMIT_KEY_HEADER:
            out.key = HttpRateLimitKey::kHeader;
            out.header = msg.header();
            std::transform(out.header.begin(), out.header.end(), out.header.begin(), http1::to_lower_ascii);
            if (out.header.empty())
                errors.add(node.at(F::kKeyFieldNumber), what + ": key HEADER needs `header`");
            else if (!is_token(out.header))
                errors.add(node.at(F::kHeaderFieldNumber), what + ": bad header name " + quote(msg.header()));
            break;
        default: errors.add(node.at(F::kKeyFieldNumber), what + ": unknown key " + std::to_string(msg.key()));
    }
    out.requests = msg.requests();
    if (out.requests == 0) errors.add(node.at(F::kRequestsFieldNumber), what + " needs requests > 0");
    out.period_ms = or_default(msg.period_ms(), out.period_ms);
    if (out.requests != 0 && uint64_t{out.period_ms} * 1000 / out.requests == 0)
        errors.add(node.at(F::kRequestsFieldNumber),
                   what + ": more than one request per microsecond is no limit; raise period_ms or lower requests");
    out.burst = msg.burst();
    out.capacity = or_default(msg.capacity(), out.capacity);
    if (out.capacity > kMaxCapacity)
        errors.add(node.at(F::kCapacityFieldNumber), what + ": capacity " + std::to_string(out.capacity) +
                                                         " out of range 1.." + std::to_string(kMaxCapacity));
    out.ipv6_prefix_length = or_default(msg.ipv6_prefix_length(), out.ipv6_prefix_length);
    if (out.ipv6_prefix_length > 128)
        errors.add(node.at(F::kIpv6PrefixLengthFieldNumber),
                   what + ": ipv6_prefix_length " + std::to_string(out.ipv6_prefix_length) + " out of range 1..128");
    const uint32_t status = or_default(msg.status(), out.status);
    if (status != 429 && status != 503)
        errors.add(node.at(F::kStatusFieldNumber), what + ": status " + std::to_string(status) + " must be 429 or 503");
    out.status = static_cast<uint16_t>(status);
    return out;
}

}  // namespace

std::vector<HttpRateLimitZoneConfig> check_rate_limit_zones(const pb::Http& msg, const Node& node, Errors& errors) {
    std::vector<HttpRateLimitZoneConfig> out;
    NameSet names;
    for (int i = 0; i < msg.rate_limit_zones_size(); ++i)
        out.push_back(check_zone(msg.rate_limit_zones(i), node.child(pb::Http::kRateLimitZonesFieldNumber, i), i,
                                 names, errors));
    return out;
}

std::vector<std::string> check_rate_limit_names(const google::protobuf::RepeatedPtrField<std::string>& names,
                                                const Node& node, int field,
                                                const std::vector<HttpRateLimitZoneConfig>& zones, Errors& errors) {
    std::vector<std::string> out;
    for (int i = 0; i < names.size(); ++i) {
        const std::string& name = names.Get(i);
        if (std::none_of(zones.begin(), zones.end(), [&](const HttpRateLimitZoneConfig& z) { return z.name == name; }))
            errors.add(node.at(field, i), "unknown rate-limit zone " + quote(name) +
                                              " (define it in this listener's http.rate_limit_zones)");
        else if (std::find(out.begin(), out.end(), name) != out.end())
            errors.add(node.at(field, i), "rate-limit zone " + quote(name) + " listed twice");
        else
            out.push_back(name);
    }
    return out;
}

}  // namespace lbd::config_check
