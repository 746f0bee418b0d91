// The checked, typed HTTP (L7) part of a listener's configuration: what the
// loader (config_http.cc) makes of lbd.v1.Http. Plain types, cheap to include.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/status_ranges.h"
#include "core/net/address.h"
#include "core/net/prefix_set.h"

namespace lbd {

// A value with variables ($host, $request_id ...) or regex groups ($1..$9),
// split into parts at load (l7/config/http_template.h) so that a request only
// concatenates. No parts: the value is plain text, used as written.
enum class HttpVariable : uint8_t {
    kRemoteAddr,
    kRemotePort,
    kHost,
    kScheme,
    kRequestUri,
    kUri,
    kArgs,
    kRequestId,
};

struct HttpTemplatePart {
    enum class Kind : uint8_t { kText, kCapture, kVariable };
    Kind kind = Kind::kText;
    uint8_t capture = 0;  // kCapture: 1..9
    HttpVariable variable = HttpVariable::kHost;
    std::string text;  // kText
};

struct HttpTemplate {
    std::vector<HttpTemplatePart> parts;
    bool dynamic() const { return !parts.empty(); }
    bool uses(HttpVariable v) const {
        for (const HttpTemplatePart& p : parts)
            if (p.kind == HttpTemplatePart::Kind::kVariable && p.variable == v) return true;
        return false;
    }
};

struct HttpHeaderValue {
    HttpHeaderValue() = default;
    HttpHeaderValue(std::string name, std::string value) : name(std::move(name)), value(std::move(value)) {}
    std::string name;
    std::string value;
    HttpTemplate value_template;  // set when `value` holds variables (header actions only)
};

// Changes to a message's header section, applied in this order: remove, set, add.
struct HttpHeaderActions {
    std::vector<std::string> remove;
    std::vector<HttpHeaderValue> set;
    std::vector<HttpHeaderValue> add;
    bool empty() const { return remove.empty() && set.empty() && add.empty(); }
};

// One host pattern, lower case: "www.example.com", or a wildcard whose
// `suffix` is ".example.com" (written "*.example.com").
struct HttpHostPattern {
    std::string text;
    bool wildcard = false;
    std::string suffix;  // wildcard only: ".example.com"
};

struct HttpHeaderMatch {
    std::string name;   // lower case
    std::string value;  // empty = present
};

// A compiled PCRE2 pattern (l7/config/route_regex.h); opaque here so the core
// does not depend on PCRE2.
struct RouteRegex;

struct HttpRouteMatch {
    std::vector<HttpHostPattern> hosts;  // empty = any
    std::string path_exact;              // one of these two, or neither
    std::string path_prefix;
    std::vector<std::string> methods;  // empty = any
    std::vector<HttpHeaderMatch> headers;
    std::shared_ptr<const RouteRegex> path_regex;  // null = none; shared by copies of the config
    std::shared_ptr<const RouteRegex> host_regex;
};

enum class HttpRouteAction : uint8_t { kPool, kRedirect, kRespond, kSplit, kStatic };

// What places a split's new clients (config.proto SplitBy).
enum class HttpSplitBy : uint8_t { kRequest, kClientAddress, kHeader, kCookie };

// A response rewrite's prefix (or domain) replacement.
struct HttpRewrite {
    std::string from;
    std::string to;
};

// One pool of a weighted split (config.proto WeightedPools).
struct HttpWeightedPool {
    std::string pool;
    uint32_t weight = 0;
};

struct HttpRedirect {
    uint16_t status = 302;
    std::string location;  // set: sent as is, or expanded from location_template
    HttpTemplate location_template;
    std::string scheme;    // "" = keep
    std::string host;      // "" = keep
    uint16_t port = 0;     // 0 = the scheme's default
};

struct HttpFixedResponse {
    uint16_t status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
};

// Files served from a directory (lbd.v1.StaticFiles).
struct HttpStaticFiles {
    std::string root;   // absolute, an existing directory at load
    std::string index;  // "" = a directory is 404
    uint32_t expires_s = 0;  // 0 = no Cache-Control / Expires
};

enum class HttpCompressionAlgorithm : uint8_t { kBrotli, kGzip, kZstd };

// Response compression (lbd.v1.Compression), defaults filled in.
struct HttpCompressionConfig {
    std::vector<HttpCompressionAlgorithm> algorithms;  // server preference, first wins a tie
    uint32_t gzip_level = 6;
    uint32_t brotli_level = 4;
    uint32_t zstd_level = 3;
    std::vector<std::string> types;  // lower case, no parameters; "text/*" for a top-level type
    uint32_t min_length = 256;
    StatusRanges statuses;
    uint32_t max_cpu_percent = 0;  // 0 = no governor
    uint32_t cpu_window_ms = 1000;
};

// A freshness lifetime for responses without their own (RouteCache.valid).
struct HttpCacheValid {
    std::vector<uint16_t> statuses;  // never empty once checked (200 301 302 by default)
    uint32_t ttl_ms = 0;
};

// The failures a stale stored response may stand in for (RouteCache.use_stale.on), as bits.
enum HttpCacheStaleOn : uint8_t {
    kStaleOnError = 1,    // no server connected, or the connection broke before a response head
    kStaleOnTimeout = 2,  // no response head within server_response_ms
    kStaleOnHttp500 = 4,
    kStaleOnHttp502 = 8,
    kStaleOnHttp503 = 16,
    kStaleOnHttp504 = 32,
    kStaleOnUpdating = 64,  // stale-while-revalidate: sent at once while one background request refreshes it
    kStaleOnAll = 127,
};

// How a route uses a cache zone (lbd.v1.RouteCache; l7/cache_policy.h).
struct HttpRouteCache {
    std::string zone;  // empty: the route does not cache
    std::vector<std::string> key_headers;  // lower case
    std::string key_cookie;
    std::vector<HttpCacheValid> valid;
    std::vector<std::string> bypass_headers;  // lower case
    std::vector<std::string> bypass_cookies;
    bool store_set_cookie = false;
    bool status_headers = true;
    uint8_t stale_on = kStaleOnAll;   // HttpCacheStaleOn bits
    uint32_t stale_if_error_ms = 0;   // replaces the response's stale-if-error when set
    uint32_t stale_while_revalidate_ms = 0;  // replaces the response's stale-while-revalidate when set
    bool check_extension_type = true;  // cache deception armor (l7/cache_extension.h)
    bool enabled() const { return !zone.empty(); }
};

// One response cache zone (lbd.v1.CacheZone; core/state/cache_store.h).
struct CacheZoneConfig {
    std::string name;
    uint64_t max_bytes = 64ull << 20;
    uint64_t max_object_bytes = 1ull << 20;
    std::string tag_header;  // lower case; empty: no tag index
    bool strip_tag_header = true;
    bool operator==(const CacheZoneConfig&) const = default;
};

// One named prefix list (lbd.v1.AclList), read and built by the loader;
// the running copy that lbctl changes is core/state/acl_lists.h.
struct AclListConfig {
    std::string name;
    std::string file;  // "" = prefixes only
    std::shared_ptr<const PrefixSet> prefixes;
};

// An allow/deny rule (lbd.v1.AccessRule); `list` is an acl_lists name or "all".
struct HttpAccessRule {
    bool allow = false;
    std::string list;
};

struct HttpAccessConfig {
    std::vector<HttpAccessRule> rules;  // first match wins; none: allowed
};

// lbd.v1.BasicAuth, the htpasswd file read and its hashes checked by the loader.
struct HttpBasicAuthConfig {
    std::string realm;
    std::string htpasswd_file;
    std::vector<std::pair<std::string, std::string>> users;  // user, crypt(3) hash
    bool forward_authorization = false;
    uint32_t cache_ms = 60000;
    uint32_t max_failures = 10;
};

struct HttpTimeoutsConfig {
    uint32_t client_header_ms = 10000;
    uint32_t client_keep_alive_ms = 60000;
    uint32_t server_connect_ms = 0;  // 0 = the pool's connect_timeout_ms
    uint32_t server_response_ms = 60000;
    uint32_t body_idle_ms = 60000;
    uint32_t server_idle_ms = 15000;
};

struct HttpRouteConfig {
    std::string name;  // may be empty
    HttpRouteMatch match;
    HttpRouteAction action = HttpRouteAction::kPool;
    std::string pool;  // kPool
    HttpRedirect redirect;
    HttpFixedResponse respond;
    HttpStaticFiles static_files;  // kStatic
    std::vector<HttpWeightedPool> split;  // kSplit; some weight > 0
    HttpSplitBy split_by = HttpSplitBy::kRequest;
    std::string split_key;  // kHeader: lower-case header name; kCookie: cookie name
    bool strip_path_prefix = false;
    std::string replace_path_prefix;  // "" = none (unless strip)
    HttpTemplate rewrite_path;        // dynamic() = the whole path replaced
    HttpHeaderActions request_headers;
    HttpHeaderActions response_headers;
    std::vector<std::string> rate_limits;  // zone names, after the listener's
    std::optional<HttpCompressionConfig> compression;  // replaces the listener's
    bool compression_off = false;  // BREACH: never compress this route
    HttpRouteCache cache;
    std::optional<HttpAccessConfig> access;  // replaces the listener's
    std::optional<HttpBasicAuthConfig> basic_auth;
    // The listener's timeouts with this route's overrides applied (loader).
    HttpTimeoutsConfig timeouts;
    bool access_log = true;
    std::vector<HttpRewrite> cookie_domain;  // from: lower case, no leading dot
    std::vector<HttpRewrite> cookie_path;
    std::vector<HttpRewrite> redirect_rewrite;
    bool redirect_rewrite_default = false;
    bool rewrites_response() const {
        return !cookie_domain.empty() || !cookie_path.empty() || !redirect_rewrite.empty() ||
               redirect_rewrite_default;
    }
};

struct HttpForwardedConfig {
    std::vector<Cidr> trusted_proxies;
    bool x_forwarded_for = true;
    bool x_real_ip = true;
    bool x_forwarded_proto = true;
    bool x_forwarded_host = true;
    bool x_forwarded_port = true;
    bool forwarded = false;  // RFC 7239
    bool via = false;
};


struct HttpLimitsConfig {
    uint32_t max_header_bytes = 32 * 1024;
    uint32_t max_header_count = 100;
    uint32_t max_uri_bytes = 8 * 1024;
    uint64_t max_body_bytes = 0;  // 0 = unlimited
};

struct HttpErrorPage {
    uint16_t status = 0;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
};

enum class HttpLogFormat : uint8_t { kText, kJson };

enum class HttpRateLimitKey : uint8_t { kClientIp, kHeader };

// One rate-limit zone (lbd.v1.RateLimitZone; core/state/rate_limiter.h counts).
struct HttpRateLimitZoneConfig {
    std::string name;
    HttpRateLimitKey key = HttpRateLimitKey::kClientIp;
    std::string header;  // kHeader: lower case
    uint32_t requests = 0;
    uint32_t period_ms = 1000;
    uint32_t burst = 0;
    uint32_t capacity = 100000;
    uint32_t ipv6_prefix_length = 64;
    uint16_t status = 429;
    bool operator==(const HttpRateLimitZoneConfig&) const = default;
};

// HTTP/2 to clients (the Http2 message of config.proto).
struct Http2Config {
    bool cleartext = false;  // h2c with prior knowledge on a plain listener
    uint32_t max_concurrent_streams = 100;
    uint32_t max_header_list_bytes = 0;  // 0: limits.max_header_bytes
    uint32_t max_resets_per_second = 100;
    uint32_t max_glitches = 1000;
    uint32_t max_continuations = 8;  // nghttp2's own default
    uint32_t max_control_frames_per_second = 100;  // PING and SETTINGS; bursts of twice as many
    uint32_t min_window_update_bytes = 1024;  // a smaller WINDOW_UPDATE is a glitch
    uint32_t idle_timeout_ms = 0;  // 0: timeouts.client_keep_alive_ms
    bool websocket = false;  // RFC 8441 extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)
};

struct HttpConfig {
    std::vector<HttpRouteConfig> routes;
    HttpForwardedConfig forwarded;
    bool hide_server_headers = false;
    bool normalize_path = true;  // http1/path.h, before routing
    HttpHeaderActions request_headers;
    HttpHeaderActions response_headers;
    HttpTimeoutsConfig timeouts;
    HttpLimitsConfig limits;
    std::vector<HttpErrorPage> error_pages;
    HttpLogFormat log_format = HttpLogFormat::kText;
    uint32_t max_idle_per_server = 256;  // 0 = no server keep-alive
    std::vector<HttpRateLimitZoneConfig> rate_limit_zones;
    std::vector<std::string> rate_limits;  // zones every request counts against
    Http2Config http2;
    std::optional<HttpCompressionConfig> compression;  // absent: no compression
    std::optional<HttpAccessConfig> access;  // unset = everyone
    // Request ids (config.proto RequestId): sent upstream when `request_id_header` is set.
    std::string request_id_header;  // "" = not sent
    bool request_id_keep_trusted = false;

    // The configured page for `status`, or null.
    const HttpErrorPage* error_page(int status) const {
        for (const HttpErrorPage& page : error_pages)
            if (page.status == status) return &page;
        return nullptr;
    }
};

}  // namespace lbd
