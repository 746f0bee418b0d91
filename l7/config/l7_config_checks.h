// The L7 tier's part of the config loader: the sections it owns (a
// listener's `http` and `tls`, a pool's `tls` and `stickiness.cookie`),
// registered with the loader in l7_config_module.cc. Each check reports every
// problem at the line of the field it is about (core/config/config_check.h).
#pragma once

#include <string>
#include <vector>

#include "core/config/config_check.h"

namespace lbd::config_check {

// A listener's http block (config_http.cc); `pools` are the pool names.
HttpConfig check_http(const pb::Http& msg, const Node& node, const NameSet& pools, Errors& errors);

// A route's regexes (config_http_route.cc): compiled into `out`.
void check_match_regex(const pb::RouteMatch& msg, const Node& node, HttpRouteMatch& out, Errors& errors);
// What a route adds beyond match and action (config_http_route.cc): rewrite_path, redirect and header
// templates, timeouts over `listener_timeouts`, access_log, response rewrites, split placement.
void check_route_extras(const pb::Route& msg, const Node& node, const std::string& what,
                        const HttpTimeoutsConfig& listener_timeouts, HttpRouteConfig& out, Errors& errors);
// Variables in the values of header actions (config_http_route.cc).
void check_header_templates(HttpHeaderActions& actions, const Node& node, Errors& errors);
// http.request_id (config_http_route.cc).
void check_request_id(const pb::Http& msg, const Node& node, HttpConfig& out, Errors& errors);

// A listener's http.rate_limit_zones (config_rate_limit.cc).
std::vector<HttpRateLimitZoneConfig> check_rate_limit_zones(const pb::Http& msg, const Node& node, Errors& errors);
// Zone names in field `field` of `node` (listener- or route-wide): each must
// be one of `zones`, listed once.
std::vector<std::string> check_rate_limit_names(const google::protobuf::RepeatedPtrField<std::string>& names,
                                                const Node& node, int field,
                                                const std::vector<HttpRateLimitZoneConfig>& zones, Errors& errors);

// A listener's or a route's compression block (config_compression.cc).
HttpCompressionConfig check_compression(const pb::Compression& msg, const Node& node, Errors& errors);
// The response cache (config_cache.cc): global.cache_zones; a route's cache
// block (`forwards`: the route has a pool or a split); and every route's
// zone name against the zones.
std::vector<CacheZoneConfig> check_cache_zones(const pb::Global& msg, const Node& node, Errors& errors);
HttpRouteCache check_route_cache(const pb::RouteCache& msg, const Node& node, bool forwards, Errors& errors);
void check_route_cache_zones(const Config& config, const Node& root, Errors& errors);
// Access control and authentication (config_access.cc): global.acl_lists
// (each list's prefixes and file read and built), a listener's or route's
// access rules, a route's basic_auth (its htpasswd file read, weak hashes
// refused); check_access_lists_known checks every rule's list name once
// the lists are known.
void check_acl_lists(const pb::Global& msg, const Node& node, GlobalConfig& out, Errors& errors);
std::optional<HttpAccessConfig> check_access(const pb::AccessControl& msg, const Node& node, Errors& errors);
std::optional<HttpBasicAuthConfig> check_basic_auth(const pb::BasicAuth& msg, const Node& node,
                                                    const std::string& what, Errors& errors);
void check_access_lists_known(const pb::Config& msg, const Node& root, const Config& config, Errors& errors);

// A route's static_files (config_static.cc): root an absolute existing
// directory (checked now, at load), index a plain file name.
HttpStaticFiles check_static_files(const pb::StaticFiles& msg, const Node& node, Errors& errors);

// A pool's stickiness.cookie (config_cookie.cc).
CookieStickinessConfig check_cookie(const pb::CookieStickiness& msg, const Node& node, Errors& errors);
// A route's weighted split (config_cookie.cc); `what` names the route.
std::vector<HttpWeightedPool> check_split(const pb::WeightedPools& msg, const Node& node, const std::string& what,
                                          const NameSet& pools, Errors& errors);
// Cookie stickiness on a pool that a TCP listener uses is an error.
void check_cookie_pools_are_http(const Config& config, const Node& root, Errors& errors);

// A listener's and a pool's tls blocks (config_tls.cc); `what` names the
// listener or pool. Certificates, keys and CA files are loaded the way the
// tier will load them, so a key that does not match its certificate is
// refused at the line naming it, by `lbd -t` and `lbctl config check` alike.
ListenerTlsConfig check_listener_tls(const pb::ListenerTls& msg, const Node& node, const std::string& what,
                                     Errors& errors);
PoolTlsConfig check_pool_tls(const pb::ServerTls& msg, const Node& node, const std::string& what, Errors& errors);
// A pool with tls serves HTTP listeners only: a TCP listener splices bytes as they are.
void check_tls_pools_unused_by_tcp(const Config& config, const Node& root, Errors& errors);

// A pool's `protocol` (config_pool_protocol.cc): HTTP/2 to servers, h2c
// without tls or h2 (ALPN "h2" only) with it, serves HTTP listeners only.
void check_pool_protocol(const pb::Pool& msg, const Node& node, const std::string& what, PoolConfig& out,
                         Errors& errors);
void check_http2_pools_unused_by_tcp(const Config& config, const Node& root, Errors& errors);

}  // namespace lbd::config_check
