// The HTTP rules of the response cache, as pure functions (no libevent, no
// zone): which requests may be answered from a zone, the key, which
// responses may be stored and for how long (RFC 9111 for a shared cache),
// and when a stored response answers a client's conditional request. The
// filters that use them are cache_filter.h; the memory is
// core/state/cache_store.h. Unit-tested in tests/unit/cache_policy_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config_http.h"
#include "core/state/cache_store.h"
#include "l7/http_message.h"

namespace lbd::l7 {

// The directives of Cache-Control (RFC 9111 §5.2) that a shared cache acts
// on. Several Cache-Control fields are one list (RFC 9110 §5.3).
struct CacheControl {
    bool no_store = false;
    bool no_cache = false;                   // unqualified: revalidate every use
    std::vector<std::string> no_cache_fields;  // no-cache="Set-Cookie": store without them
    bool is_private = false;                 // unqualified private
    bool is_public = false;
    bool must_revalidate = false;            // or proxy-revalidate (this cache is shared)
    std::optional<uint64_t> max_age;
    std::optional<uint64_t> s_maxage;
    std::optional<uint64_t> stale_if_error;  // RFC 5861 §4
    std::optional<uint64_t> stale_while_revalidate;  // RFC 5861 §3
};
CacheControl parse_cache_control(const HeaderList& headers);

// IMF-fixdate (and the obsolete forms strptime reads); seconds since the epoch.
std::optional<int64_t> parse_http_date(std::string_view text);
std::string format_http_date(int64_t seconds);

// Why a request is not answered from the cache (it goes to the server and
// its response is not stored), or null when it may be. `trusted_client`:
// the peer is one of http.forwarded.trusted_proxies, whose override
// headers (kCacheOverrideHeaders) are its own.
const char* cache_bypass_reason(const RequestInfo& request, const HttpRouteCache& route, bool trusted_client = false);

// Request headers that common origin frameworks let override the URL, the
// method or the host they answer for (Symfony and IIS X-Original-URL,
// X-Rewrite-URL; Rails and Express method overrides; ...), which lbd does
// not set, key or replace. Cache poisoning: an attacker's request with
// `X-Original-URL: /admin` on /index.html would store /admin's answer under
// /index.html for everyone. A request carrying one from an untrusted peer
// bypasses the cache. (X-Forwarded-Host/-Proto/-Port and X-Real-IP are
// replaced for such a peer by the forwarding headers, http.forwarded.)
inline constexpr std::string_view kCacheOverrideHeaders[] = {
    "x-original-url", "x-rewrite-url",      "x-http-method-override", "x-http-method", "x-method-override",
    "x-host",         "x-forwarded-server", "x-forwarded-scheme",     "x-forwarded-prefix"};

// scheme://host/path?query, then the route's key headers and cookie.
std::string cache_key(const RequestInfo& request, std::string_view scheme, const HttpRouteCache& route);
// The key of the variant of `key` that `request` selects by `vary` (lower-case
// header names): their values appended, Accept-Encoding normalised.
std::string cache_variant_key(std::string_view key, const std::vector<std::string>& vary, const RequestInfo& request);
// An Accept-Encoding in the normal form of compression::AcceptEncoding::
// normalized(): "gzip, br" and "br;q=1,gzip" select one variant, "*" the
// variant of every coding, and a client that accepts nothing that of none.
std::string normalize_accept_encoding(std::string_view value);

// StoreDecision::why of a response refused by the cache deception armor
// (HttpRouteCache::check_extension_type, cache_extension.h).
inline constexpr const char* kNotStoredExtensionMismatch = "extension mismatch";

// What the cache does with a response to `request`.
struct StoreDecision {
    bool store = false;
    const char* why = "";  // when not stored: the rule that refused
    uint64_t lifetime_s = 0;
    uint64_t initial_age_s = 0;
    bool revalidate = false;          // no-cache (or must-revalidate with lifetime 0)
    bool no_stale = false;            // never served stale (CacheObject::no_stale)
    uint64_t stale_if_error_s = 0;
    uint64_t stale_while_revalidate_s = 0;
    std::vector<std::string> vary;    // lower-case names
    std::vector<std::string> strip;   // fields not stored (Set-Cookie, no-cache="...")
};
// `now_s`: wall clock seconds when the response head came. `request.path`
// is what the extension check reads.
StoreDecision decide_store(const RequestInfo& request, const ResponseInfo& response, const HttpRouteCache& route,
                           int64_t now_s);

// Statuses a shared cache may store without an explicit lifetime rule
// (RFC 9110 §15.1 "heuristically cacheable", minus 206: no ranges here).
bool cacheable_by_default(int status);

// RFC 9111 §4.2.3 current_age, and whether the object is fresh now.
uint64_t cache_current_age(const CacheObject& object, int64_t now_s);
bool cache_fresh(const CacheObject& object, int64_t now_s);
// RFC 5861: the stale `object` may be sent now for `on` (an
// HttpCacheStaleOn bit: a kind of server failure, or kStaleOnUpdating):
// the route allows that kind, the object allows serving stale, and it has
// been stale for less than its window: for updating the route's
// stale_while_revalidate_ms, else the response's stale-while-revalidate;
// for a failure stale_if_error_ms, else stale-if-error.
bool cache_stale_usable(const CacheObject& object, const HttpRouteCache& route, uint8_t on, int64_t now_s);
// The HttpCacheStaleOn bit of a server status a stale entry may replace, or 0.
uint8_t cache_stale_on_status(int status);

// The stored copy of a response's header fields: no framing, no Age, none
// of `strip`.
HeaderList stored_headers(const HeaderList& headers, const std::vector<std::string>& strip);

// The client's If-None-Match (weak comparison), or else If-Modified-Since,
// holds for `object`: answer 304 (RFC 9110 §13.2.2 order).
bool client_not_modified(const RequestInfo& request, const CacheObject& object);
// The same for a 2xx response with these fields (ETag, Last-Modified or
// Date); also what static files answer 304 by.
bool fields_not_modified(const RequestInfo& request, const HeaderList& fields);

}  // namespace lbd::l7
