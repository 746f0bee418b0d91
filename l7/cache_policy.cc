// The cache's HTTP rules (cache_policy.h). Section numbers are RFC 9111's
// unless said otherwise.
#include "l7/cache_policy.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "l7/cache_extension.h"
#include "l7/compression/negotiation.h"
#include "l7/cookie_header.h"

namespace lbd::l7 {
namespace {

// Calls `each` with every element of the comma-separated lists of the
// fields named `name`, trimmed; commas inside quotes do not split.
template <typename Fn>
void for_each_list_item(const HeaderList& headers, std::string_view name, Fn each) {
    for (const auto& [field, value] : headers) {
        if (!iequals(field, name)) continue;
        std::string_view rest = value;
        while (!rest.empty()) {
            size_t end = 0;
            bool quoted = false;
            while (end < rest.size() && (quoted || rest[end] != ',')) {
                if (rest[end] == '"') quoted = !quoted;
                ++end;
            }
            std::string_view item = trim_ows(rest.substr(0, end));
            if (!item.empty()) each(item);
            rest.remove_prefix(std::min(end + 1, rest.size()));
        }
    }
}

std::optional<uint64_t> parse_seconds(std::string_view text) {
    // §1.2.2: delta-seconds; a value too large for us is "forever" (2^31).
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ptr == text.data() || ptr != text.data() + text.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range || value > (1ull << 31)) return 1ull << 31;
    return value;
}

std::string_view unquote(std::string_view s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
    return s;
}

bool has_field(const HeaderList& headers, std::string_view name) { return find_header(headers, name) != nullptr; }

// One entity tag without its weak prefix (RFC 9110 §8.8.3.2 weak comparison).
std::string_view opaque_tag(std::string_view tag) {
    tag = trim_ows(tag);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
}

// One pass over the fields (this runs for every request of a caching
// route, hits included): only an "x-" name can be one of the list.
bool has_override_header(const HeaderList& headers) {
    for (const auto& field : headers) {
        const std::string& name = field.first;
        if (name.size() < 2 || (name[0] != 'x' && name[0] != 'X') || name[1] != '-') continue;
        for (std::string_view override_name : kCacheOverrideHeaders)
            if (iequals(name, override_name)) return true;
    }
    return false;
}

// The lifetime the response states itself (§4.2.1), if any.
std::optional<uint64_t> explicit_lifetime(const CacheControl& cc, const HeaderList& headers) {
    if (cc.s_maxage) return cc.s_maxage;
    if (cc.max_age) return cc.max_age;
    const std::string* expires = find_header(headers, "expires");
    if (expires == nullptr) return std::nullopt;
    // §5.3: an invalid Expires (e.g. "0") means already expired.
    std::optional<int64_t> at = parse_http_date(*expires);
    const std::string* date_field = find_header(headers, "date");
    std::optional<int64_t> date = date_field != nullptr ? parse_http_date(*date_field) : std::nullopt;
    if (!at || !date || *at <= *date) return 0;
    return static_cast<uint64_t>(*at - *date);
}

// The route's `valid` lifetime for `status` (nginx proxy_cache_valid), if any.
std::optional<uint64_t> configured_lifetime(const HttpRouteCache& route, int status) {
    for (const HttpCacheValid& valid : route.valid)
        if (std::find(valid.statuses.begin(), valid.statuses.end(), status) != valid.statuses.end())
            return (uint64_t{valid.ttl_ms} + 999) / 1000;
    return std::nullopt;
}

}  // namespace

CacheControl parse_cache_control(const HeaderList& headers) {
    CacheControl cc;
    for_each_list_item(headers, "cache-control", [&](std::string_view item) {
        const size_t eq = item.find('=');
        const std::string name = lower_ascii(trim_ows(item.substr(0, eq)));
        const std::string_view arg = eq == std::string_view::npos ? "" : unquote(trim_ows(item.substr(eq + 1)));
        if (name == "no-store") {
            cc.no_store = true;
        } else if (name == "no-cache") {
            if (arg.empty()) cc.no_cache = true;
            // §5.2.2.4: the qualified form names fields not to be sent from the cache.
            for_each_list_item({{"x", std::string(arg)}}, "x",
                               [&](std::string_view f) { cc.no_cache_fields.push_back(lower_ascii(f)); });
        } else if (name == "private") {
            // §5.2.2.7: the qualified form limits only the named fields; a
            // shared cache treating it as unqualified errs on the safe side.
            cc.is_private = true;
        } else if (name == "public") {
            cc.is_public = true;
        } else if (name == "must-revalidate" || name == "proxy-revalidate") {
            cc.must_revalidate = true;
        } else if (name == "max-age") {
            // §4.2.1: an invalid max-age makes the response stale.
            cc.max_age = parse_seconds(arg).value_or(0);
        } else if (name == "s-maxage") {
            cc.s_maxage = parse_seconds(arg).value_or(0);
        } else if (name == "stale-if-error") {
            // RFC 5861 §4; an invalid value allows nothing.
            cc.stale_if_error = parse_seconds(arg).value_or(0);
        } else if (name == "stale-while-revalidate") {
            cc.stale_while_revalidate = parse_seconds(arg).value_or(0);
        }
    });
    return cc;
}

std::optional<int64_t> parse_http_date(std::string_view text) {
    // RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms.
    static constexpr const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                               "%a %b %e %H:%M:%S %Y"};
    const std::string copy(trim_ows(text));
    for (const char* format : kFormats) {
        std::tm tm{};
        const char* end = strptime(copy.c_str(), format, &tm);
        if (end != nullptr && *end == '\0') return static_cast<int64_t>(timegm(&tm));
    }
    return std::nullopt;
}

std::string format_http_date(int64_t seconds) {
    const time_t t = static_cast<time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
}

const char* cache_bypass_reason(const RequestInfo& request, const HttpRouteCache& route, bool trusted_client) {
    if (request.method_kind != HttpMethod::kGet && request.method_kind != HttpMethod::kHead) return "method";
    // A request with a body is never answered from the cache: the body may
    // change the answer and is not in the key.
    if (request.framing != BodyFraming::kNone && !(request.framing == BodyFraming::kContentLength &&
                                                   request.content_length == 0))
        return "body";
    if (!trusted_client && has_override_header(request.headers)) return "override header";
    for (const std::string& name : route.bypass_headers)
        if (const std::string* value = find_header(request.headers, name); value && !value->empty() && *value != "0")
            return "bypass header";
    for (const std::string& name : route.bypass_cookies)
        if (std::optional<std::string> value = request_cookie(request.headers, name); value && !value->empty() &&
                                                                                       *value != "0")
            return "bypass cookie";
    return nullptr;
}

std::string cache_key(const RequestInfo& request, std::string_view scheme, const HttpRouteCache& route) {
    std::string key;
    key.reserve(scheme.size() + 3 + request.host.size() + request.path.size() + request.query.size());
    key.append(scheme).append("://").append(request.host).append(request.path).append(request.query);
    for (const std::string& name : route.key_headers) {
        const std::string* value = find_header(request.headers, name);
        key.append(" ").append(name).append("=");
        if (value != nullptr) key.append(*value);
    }
    if (!route.key_cookie.empty())
        key.append(" cookie=").append(request_cookie(request.headers, route.key_cookie).value_or(""));
    return key;
}

std::string normalize_accept_encoding(std::string_view value) {
    // The compression filter's own parser: one reading of q-values, "*" and
    // x-gzip for the variant a response is stored under and the coding it
    // is compressed with.
    compression::AcceptEncoding accept;
    accept.add(value);
    return accept.normalized();
}

std::string cache_variant_key(std::string_view key, const std::vector<std::string>& vary, const RequestInfo& request) {
    std::string out(key);
    for (const std::string& name : vary) {
        out.append(1, kCacheVariantSeparator).append(name).append("=");
        std::string values;
        for (const auto& [field, value] : request.headers)
            if (iequals(field, name)) values.append(values.empty() ? "" : ",").append(value);
        out.append(name == "accept-encoding" ? normalize_accept_encoding(values) : values);
    }
    return out;
}

bool cacheable_by_default(int status) {
    switch (status) {
        case 200: case 203: case 204: case 300: case 301: case 308: case 404: case 405: case 410: case 414: case 501:
            return true;
        default: return false;
    }
}

StoreDecision decide_store(const RequestInfo& request, const ResponseInfo& response, const HttpRouteCache& route,
                           int64_t now_s) {
    StoreDecision d;
    auto refuse = [&](const char* why) {
        d.store = false;
        d.why = why;
        return d;
    };
    if (request.method_kind != HttpMethod::kGet) return refuse("not GET");
    const CacheControl cc = parse_cache_control(response.headers);
    if (cc.no_store) return refuse("no-store");
    if (cc.is_private) return refuse("private");
    // §3.5: a response to a request with Authorization only when it says so.
    if (has_field(request.headers, "authorization") && !cc.is_public && !cc.s_maxage && !cc.must_revalidate)
        return refuse("authorization");
    bool vary_star = false;
    for_each_list_item(response.headers, "vary", [&](std::string_view name) {
        if (name == "*") vary_star = true;
        std::string lowered = lower_ascii(name);
        if (std::find(d.vary.begin(), d.vary.end(), lowered) == d.vary.end()) d.vary.push_back(std::move(lowered));
    });
    if (vary_star) return refuse("vary *");  // §4.1: never matches a later request
    d.strip = cc.no_cache_fields;
    if (has_field(response.headers, "set-cookie")) {
        const bool qualified =
            std::find(d.strip.begin(), d.strip.end(), "set-cookie") != d.strip.end();
        if (!route.store_set_cookie && !qualified) return refuse("set-cookie");
        if (!qualified) d.strip.push_back("set-cookie");
    }
    const std::optional<uint64_t> configured = configured_lifetime(route, response.status);
    if (!cacheable_by_default(response.status) && !configured) return refuse("status");
    std::optional<uint64_t> lifetime = explicit_lifetime(cc, response.headers);
    // nginx's order: the response's own lifetime first, proxy_cache_valid when it has none.
    if (!lifetime) lifetime = configured;
    // no-cache needs no lifetime: every use asks the server anyway.
    if (!lifetime && cc.no_cache) lifetime = 0;
    if (!lifetime) return refuse("no lifetime");
    d.lifetime_s = *lifetime;
    const bool validators = has_field(response.headers, "etag") || has_field(response.headers, "last-modified");
    d.revalidate = cc.no_cache || (cc.must_revalidate && d.lifetime_s == 0);
    // §4.2.4, §5.2.2.10: s-maxage implies proxy-revalidate for a shared cache.
    d.no_stale = cc.no_cache || cc.must_revalidate || cc.s_maxage.has_value();
    d.stale_if_error_s = cc.stale_if_error.value_or(0);
    d.stale_while_revalidate_s = cc.stale_while_revalidate.value_or(0);
    // Stale at once with nothing to revalidate by: it could never be used.
    if ((d.lifetime_s == 0 || d.revalidate) && !validators) return refuse("stale, no validator");
    // §4.2.3: corrected_initial_age = max(apparent_age, age_value); the
    // response delay is within a second here.
    uint64_t apparent = 0;
    if (const std::string* date = find_header(response.headers, "date"))
        if (std::optional<int64_t> at = parse_http_date(*date); at && *at < now_s) apparent = now_s - *at;
    uint64_t age_value = 0;
    if (const std::string* age = find_header(response.headers, "age")) age_value = parse_seconds(*age).value_or(0);
    d.initial_age_s = std::max(apparent, age_value);
    // Last: only a response that would otherwise be stored counts as refused by it.
    if (route.check_extension_type &&
        !content_type_fits_extension(request.path, find_header(response.headers, "content-type")))
        return refuse(kNotStoredExtensionMismatch);
    d.store = true;
    return d;
}

uint64_t cache_current_age(const CacheObject& object, int64_t now_s) {
    const int64_t resident = now_s > object.response_time_s ? now_s - object.response_time_s : 0;
    return object.initial_age_s + static_cast<uint64_t>(resident);
}

bool cache_fresh(const CacheObject& object, int64_t now_s) {
    return !object.revalidate && cache_current_age(object, now_s) < object.lifetime_s;
}

bool cache_stale_usable(const CacheObject& object, const HttpRouteCache& route, uint8_t on, int64_t now_s) {
    if ((route.stale_on & on) == 0 || object.no_stale || object.revalidate) return false;
    const uint64_t age = cache_current_age(object, now_s);
    if (age < object.lifetime_s) return true;  // fresh again (stored meanwhile): surely usable
    const bool updating = on == kStaleOnUpdating;
    const uint64_t window_ms =
        updating ? (route.stale_while_revalidate_ms != 0 ? route.stale_while_revalidate_ms
                                                         : object.stale_while_revalidate_s * 1000)
                 : (route.stale_if_error_ms != 0 ? route.stale_if_error_ms : object.stale_if_error_s * 1000);
    return (age - object.lifetime_s) * 1000 < window_ms;
}

uint8_t cache_stale_on_status(int status) {
    switch (status) {
        case 500: return kStaleOnHttp500;
        case 502: return kStaleOnHttp502;
        case 503: return kStaleOnHttp503;
        case 504: return kStaleOnHttp504;
        default: return 0;
    }
}

HeaderList stored_headers(const HeaderList& headers, const std::vector<std::string>& strip) {
    HeaderList out;
    out.reserve(headers.size());
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in the lambda below.
    for (const auto& field : headers) {
        const std::string& name = field.first;
        if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "age") ||
            iequals(name, "x-cache") || iequals(name, "x-cache-status"))
            continue;
        if (std::any_of(strip.begin(), strip.end(), [&](const std::string& s) { return iequals(name, s); })) continue;
        out.push_back(field);
    }
    return out;
}

bool client_not_modified(const RequestInfo& request, const CacheObject& object) {
    // RFC 9110 §13.2.1: preconditions apply to a response that would be 2xx;
    // a stored 404 or 301 is sent whatever the client holds.
    if (object.status < 200 || object.status > 299) return false;
    return fields_not_modified(request, object.headers);
}

bool fields_not_modified(const RequestInfo& request, const HeaderList& fields) {
    // RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only without it.
    if (find_header(request.headers, "if-none-match") != nullptr) {
        const std::string* etag = find_header(fields, "etag");
        bool match = false;
        for_each_list_item(request.headers, "if-none-match", [&](std::string_view tag) {
            if (tag == "*" || (etag != nullptr && opaque_tag(tag) == opaque_tag(*etag))) match = true;
        });
        return match;
    }
    const std::string* since = find_header(request.headers, "if-modified-since");
    if (since == nullptr) return false;
    const std::string* modified = find_header(fields, "last-modified");
    if (modified == nullptr) modified = find_header(fields, "date");
    if (modified == nullptr) return false;
    std::optional<int64_t> ims = parse_http_date(*since);
    std::optional<int64_t> lm = parse_http_date(*modified);
    return ims && lm && *lm <= *ims;
}

}  // namespace lbd::l7
