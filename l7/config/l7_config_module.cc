// Registers the L7 tier's config sections with the loader
// (core/config/config_modules.h): linked whole into lbd, lbctl and the
// tests, so all of them check http and tls blocks alike.
#include "core/config/config_modules.h"
#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

void check_listener_sections(const pb::Listener& msg, const Node& node, const std::string& what,
                             const NameSet& pools, ListenerConfig& out, Errors& errors) {
    using F = pb::Listener;
    if (out.mode != ListenerMode::kHttp) return;  // the loader refuses http/tls blocks on TCP listeners
    // Every HTTP listener gets the http defaults, written or not.
    out.http = check_http(msg.http(), node.child(F::kHttpFieldNumber), pools, errors);
    if (msg.has_tls()) out.tls = check_listener_tls(msg.tls(), node.child(F::kTlsFieldNumber), what, errors);
    // A TLS listener agrees on HTTP/2 by ALPN; a preface in clear text would
    // never reach it.
    if (msg.has_tls() && out.http.http2.cleartext)
        errors.add(node.child(F::kHttpFieldNumber).child(pb::Http::kHttp2FieldNumber).at(pb::Http2::kCleartextFieldNumber),
                   what + ": http2 cleartext is for plain listeners (a TLS listener offers h2 by its alpn)");
}

void check_pool_sections(const pb::Pool& msg, const Node& node, const std::string& what, PoolConfig& out,
                         Errors& errors) {
    using F = pb::Pool;
    if (msg.stickiness().has_cookie())
        out.stickiness.cookie = check_cookie(msg.stickiness().cookie(),
                                             node.child(F::kStickinessFieldNumber).child(pb::Stickiness::kCookieFieldNumber),
                                             errors);
    if (msg.has_tls()) out.tls = check_pool_tls(msg.tls(), node.child(F::kTlsFieldNumber), what, errors);
    check_pool_protocol(msg, node, what, out, errors);
}

void check_across_sections(const pb::Config& msg, const Node& root, const Config& config, Errors& errors) {
    check_cookie_pools_are_http(config, root, errors);
    check_access_lists_known(msg, root, config, errors);
    check_tls_pools_unused_by_tcp(config, root, errors);
    check_http2_pools_unused_by_tcp(config, root, errors);
    check_route_cache_zones(config, root, errors);
}

void check_global_sections(const pb::Global& msg, const Node& node, GlobalConfig& out, Errors& errors) {
    out.cache_zones = check_cache_zones(msg, node, errors);
    check_acl_lists(msg, node, out, errors);
}

const bool registered = register_config_module({
    .name = "http",
    .owns = {"Listener.http", "Listener.tls", "Pool.tls", "Pool.protocol", "Stickiness.cookie", "Global.cache_zones",
             "Global.acl_lists"},
    .global = &check_global_sections,
    .pool = &check_pool_sections,
    .listener = &check_listener_sections,
    .whole = &check_across_sections,
});

}  // namespace
}  // namespace lbd::config_check
