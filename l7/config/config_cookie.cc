// Checks cookie stickiness (lbd.v1.CookieStickiness, a pool's
// stickiness.cookie) and weighted splits between pools (lbd.v1.WeightedPools).
// Part of the config loader: every problem is reported at the line of the
// field it is about.
#include <algorithm>
#include <string>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

// A split's weights add up without overflow, and "90 / 10" reads as percent.
constexpr uint32_t kMaxSplitWeight = 10000;

// RFC 6265 §4.1.1: cookie-name is an RFC 2616 token.
bool is_cookie_name(const std::string& s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (c <= 0x20 || c >= 0x7f) return false;
        if (std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) != std::string_view::npos) return false;
    }
    return true;
}

// An attribute value of Set-Cookie (path, domain): visible ASCII, no ';'.
bool is_attribute_value(const std::string& s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f || c == ';') return false;
    return true;
}

}  // namespace

CookieStickinessConfig check_cookie(const pb::CookieStickiness& msg, const Node& node, Errors& errors) {
    using F = pb::CookieStickiness;
    CookieStickinessConfig out;
    switch (msg.mode()) {
        case pb::CookieStickiness::INSERT: out.mode = CookieMode::kInsert; break;
        case pb::CookieStickiness::LEARN: out.mode = CookieMode::kLearn; break;
        default: errors.add(node.at(F::kModeFieldNumber), "stickiness cookie needs a mode: INSERT or LEARN");
    }
    out.name = msg.name();
    if (!is_cookie_name(out.name))
        errors.add(node.at(F::kNameFieldNumber),
                   out.name.empty() ? "stickiness cookie has no name"
                                    : "bad cookie name " + quote(out.name) + " (a token: no spaces, '=', ';', ...)");
    const bool insert_attributes = !msg.path().empty() || msg.max_age_s() != 0 || msg.secure() || msg.http_only() ||
                                   !msg.same_site().empty() || !msg.domain().empty();
    if (out.mode == CookieMode::kLearn && insert_attributes)
        errors.add(node.self(), "stickiness cookie: path, max_age_s, secure, http_only, same_site and domain are for "
                                "mode INSERT (LEARN never writes the cookie)");
    if (!msg.path().empty()) {
        if (msg.path().front() != '/' || !is_attribute_value(msg.path()))
            errors.add(node.at(F::kPathFieldNumber), "bad cookie path " + quote(msg.path()) + ": must start with '/'");
        out.path = msg.path();
    }
    if (!is_attribute_value(msg.domain()))
        errors.add(node.at(F::kDomainFieldNumber), "bad cookie domain " + quote(msg.domain()));
    out.domain = msg.domain();
    out.max_age_s = msg.max_age_s();
    out.secure = msg.secure();
    out.http_only = msg.http_only();
    out.same_site = msg.same_site();
    if (!out.same_site.empty() && out.same_site != "Strict" && out.same_site != "Lax" && out.same_site != "None")
        errors.add(node.at(F::kSameSiteFieldNumber),
                   "cookie same_site " + quote(out.same_site) + " must be Strict, Lax or None");
    // Browsers drop a SameSite=None cookie that is not Secure.
    if (out.same_site == "None" && !out.secure)
        errors.add(node.at(F::kSameSiteFieldNumber), "cookie same_site None needs secure: true");
    return out;
}

std::vector<HttpWeightedPool> check_split(const pb::WeightedPools& msg, const Node& node, const std::string& what,
                                          const NameSet& pools, Errors& errors) {
    using F = pb::WeightedPool;
    std::vector<HttpWeightedPool> out;
    if (msg.pools_size() == 0) errors.add(node.self(), what + ": split needs at least one pool");
    NameSet seen;
    uint32_t total = 0;
    for (int i = 0; i < msg.pools_size(); ++i) {
        const pb::WeightedPool& entry = msg.pools(i);
        const Node entry_node = node.child(pb::WeightedPools::kPoolsFieldNumber, i);
        const Loc pool_at = entry_node.at(F::kPoolFieldNumber);
        if (entry.pool().empty())
            errors.add(entry_node.self(), what + ": split entry has no pool");
        else if (!pools.contains(entry.pool()))
            errors.add(pool_at, what + ": split refers to unknown pool " + quote(entry.pool()));
        else if (auto first = seen.add(entry.pool(), pool_at.line))
            errors.add(pool_at, what + ": pool " + quote(entry.pool()) + " appears twice in the split (first at line " +
                                    std::to_string(*first) + ")");
        if (entry.weight() > kMaxSplitWeight)
            errors.add(entry_node.at(F::kWeightFieldNumber), what + ": split weight " + std::to_string(entry.weight()) +
                                                                 " out of range 0.." + std::to_string(kMaxSplitWeight));
        total += std::min(entry.weight(), kMaxSplitWeight);
        out.push_back({entry.pool(), entry.weight()});
    }
    if (msg.pools_size() != 0 && total == 0)
        errors.add(node.self(), what + ": the split's weights are all 0 (no pool would take a request)");
    return out;
}

void check_cookie_pools_are_http(const Config& config, const Node& root, Errors& errors) {
    for (size_t p = 0; p < config.pools.size(); ++p) {
        const PoolConfig& pool = config.pools[p];
        if (pool.stickiness.cookie.mode == CookieMode::kNone) continue;
        for (const ListenerConfig& listener : config.listeners) {
            if (listener.mode != ListenerMode::kTcp || listener.pool != pool.name) continue;
            const Loc at = root.child(pb::Config::kPoolsFieldNumber, static_cast<int>(p))
                               .child(pb::Pool::kStickinessFieldNumber)
                               .at(pb::Stickiness::kCookieFieldNumber);
            errors.add(at, "pool " + quote(pool.name) + " has cookie stickiness, but TCP listener " +
                               quote(listener.name) + " uses it (cookies need mode: MODE_HTTP)");
        }
    }
}

}  // namespace lbd::config_check
