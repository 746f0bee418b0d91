// Checks a listener's `http` block (lbd.v1.Http) and builds the typed
// HttpConfig (core/config/config_http.h). Part of the config loader: every problem is
// reported at the line of the field it is about.
#include <algorithm>
#include <string>

#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {
namespace {

constexpr uint32_t kMinHeaderBytes = 1024;
constexpr uint32_t kMaxHeaderBytes = 1024 * 1024;
constexpr uint32_t kMaxHeaderCount = 10000;
constexpr uint32_t kMinUriBytes = 16;
constexpr size_t kMaxErrorBody = 4096;
constexpr size_t kMaxFixedBody = 64 * 1024;

// An origin-form path: '/' then visible ASCII, no '?' or '#'.
bool is_path(const std::string& s) {
    if (s.empty() || s.front() != '/') return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return http1::is_target_char(c) && c != '?'; });
}

// A DNS name, an IPv4 address or a bracketed IPv6 one, maybe with a port: a narrower set than the
// reg-name the parser accepts in Host, so a route or redirect names only what a host can be.
bool is_host_chars(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return http1::is_alpha(c) || http1::is_digit(c) || c == '-' || c == '.' || c == '_' || c == '[' || c == ']' ||
               c == ':';
    });
}

HttpHeaderActions check_header_actions(const pb::HeaderActions& msg, const Node& node, Errors& errors) {
    using F = pb::HeaderActions;
    HttpHeaderActions out;
    for (int i = 0; i < msg.set_size(); ++i)
        out.set.push_back(check_header_value(msg.set(i), node.at(F::kSetFieldNumber, i), "set", errors));
    for (int i = 0; i < msg.add_size(); ++i)
        out.add.push_back(check_header_value(msg.add(i), node.at(F::kAddFieldNumber, i), "add", errors));
    for (int i = 0; i < msg.remove_size(); ++i) {
        if (!is_token(msg.remove(i)))
            errors.add(node.at(F::kRemoveFieldNumber, i), "remove: bad header name " + quote(msg.remove(i)));
        out.remove.push_back(msg.remove(i));
    }
    return out;
}

HttpRouteMatch check_match(const pb::RouteMatch& msg, const Node& node, Errors& errors) {
    using F = pb::RouteMatch;
    HttpRouteMatch out;
    for (int i = 0; i < msg.hosts_size(); ++i) {
        HttpHostPattern host;
        host.text = http1::lower_ascii(msg.hosts(i));
        std::string rest = host.text;
        if (rest.rfind("*.", 0) == 0) {
            host.wildcard = true;
            rest = rest.substr(2);
            host.suffix = "." + rest;
        }
        if (!is_host_chars(rest) || rest.front() == '.' || rest.back() == '.')
            errors.add(node.at(F::kHostsFieldNumber, i),
                       "bad host " + quote(msg.hosts(i)) + ": expected a name, or *.name for its subdomains");
        out.hosts.push_back(std::move(host));
    }
    if (!msg.path_exact().empty() && !msg.path_prefix().empty())
        errors.add(node.at(F::kPathPrefixFieldNumber), "path_exact and path_prefix are both set");
    if (!msg.path_exact().empty() && !is_path(msg.path_exact()))
        errors.add(node.at(F::kPathExactFieldNumber), "bad path " + quote(msg.path_exact()) +
                                                         ": must start with '/', without spaces, '?' or '#'");
    if (!msg.path_prefix().empty() && !is_path(msg.path_prefix()))
        errors.add(node.at(F::kPathPrefixFieldNumber), "bad path " + quote(msg.path_prefix()) +
                                                          ": must start with '/', without spaces, '?' or '#'");
    out.path_exact = msg.path_exact();
    out.path_prefix = msg.path_prefix();
    for (int i = 0; i < msg.methods_size(); ++i) {
        if (!is_token(msg.methods(i)))
            errors.add(node.at(F::kMethodsFieldNumber, i), "bad method " + quote(msg.methods(i)));
        out.methods.push_back(msg.methods(i));
    }
    for (int i = 0; i < msg.headers_size(); ++i) {
        const pb::HeaderMatch& h = msg.headers(i);
        Loc at = node.at(F::kHeadersFieldNumber, i);
        if (!is_token(h.name())) errors.add(at, "header match: bad header name " + quote(h.name()));
        if (!is_field_value(h.value())) errors.add(at, "header match: bad value for " + quote(h.name()));
        out.headers.push_back({http1::lower_ascii(h.name()), h.value()});
    }
    check_match_regex(msg, node, out, errors);
    return out;
}

HttpRedirect check_redirect(const pb::Redirect& msg, const Node& node, Errors& errors) {
    using F = pb::Redirect;
    HttpRedirect out;
    const uint32_t status = or_default(msg.status(), out.status);
    if (status != 301 && status != 302 && status != 307 && status != 308)
        errors.add(node.at(F::kStatusFieldNumber), "redirect status " + std::to_string(status) +
                                                       " must be 301, 302, 307 or 308");
    out.status = static_cast<uint16_t>(status);
    out.location = msg.location();
    out.scheme = msg.scheme();
    out.host = http1::lower_ascii(msg.host());
    if (!out.location.empty()) {
        if (!out.scheme.empty() || !out.host.empty() || msg.port() != 0)
            errors.add(node.at(F::kLocationFieldNumber), "redirect: location is a whole URL; scheme, host and port "
                                                         "cannot be set beside it");
        if (!is_field_value(out.location) || out.location.find(' ') != std::string::npos)
            errors.add(node.at(F::kLocationFieldNumber), "redirect: bad location " + quote(out.location));
    } else if (out.scheme.empty() && out.host.empty() && msg.port() == 0) {
        errors.add(node.self(), "redirect needs a location, or a scheme, host or port to change (it would loop)");
    }
    if (!out.scheme.empty() && out.scheme != "http" && out.scheme != "https")
        errors.add(node.at(F::kSchemeFieldNumber), "redirect scheme " + quote(out.scheme) + " must be http or https");
    if (!out.host.empty() && !is_host_chars(out.host))
        errors.add(node.at(F::kHostFieldNumber), "redirect: bad host " + quote(msg.host()));
    if (msg.port() > 65535) errors.add(node.at(F::kPortFieldNumber), "redirect port " + std::to_string(msg.port()) +
                                                                         " out of range 1..65535");
    out.port = static_cast<uint16_t>(msg.port());
    return out;
}

HttpFixedResponse check_respond(const pb::FixedResponse& msg, const Node& node, Errors& errors) {
    using F = pb::FixedResponse;
    HttpFixedResponse out;
    const uint32_t status = or_default(msg.status(), out.status);
    if (status < 200 || status > 599)
        errors.add(node.at(F::kStatusFieldNumber), "respond status " + std::to_string(status) + " out of range 200..599");
    out.status = static_cast<uint16_t>(status);
    if (msg.body().size() > kMaxFixedBody)
        errors.add(node.at(F::kBodyFieldNumber), "respond body is longer than " + std::to_string(kMaxFixedBody) + " bytes");
    out.body = msg.body();
    if (!msg.content_type().empty()) {
        if (!is_field_value(msg.content_type()))
            errors.add(node.at(F::kContentTypeFieldNumber), "respond: bad content_type " + quote(msg.content_type()));
        out.content_type = msg.content_type();
    }
    return out;
}

HttpRouteConfig check_route(const pb::Route& msg, const Node& node, int index, NameSet& names, const NameSet& pools,
                            const HttpTimeoutsConfig& timeouts, Errors& errors) {
    using F = pb::Route;
    HttpRouteConfig out;
    out.name = msg.name();
    const std::string what = label("route", msg.name(), index);
    if (!msg.name().empty()) check_name("route", msg.name(), node.at(F::kNameFieldNumber), names, "", errors);
    out.match = check_match(msg.match(), node.child(F::kMatchFieldNumber), errors);
    switch (msg.action_case()) {
        case pb::Route::kPool:
            out.action = HttpRouteAction::kPool;
            out.pool = msg.pool();
            if (!pools.contains(msg.pool()))
                errors.add(node.at(F::kPoolFieldNumber), what + " refers to unknown pool " + quote(msg.pool()));
            break;
        case pb::Route::kRedirect:
            out.action = HttpRouteAction::kRedirect;
            out.redirect = check_redirect(msg.redirect(), node.child(F::kRedirectFieldNumber), errors);
            break;
        case pb::Route::kRespond:
            out.action = HttpRouteAction::kRespond;
            out.respond = check_respond(msg.respond(), node.child(F::kRespondFieldNumber), errors);
            break;
        case pb::Route::kSplit:
            out.action = HttpRouteAction::kSplit;
            out.split = check_split(msg.split(), node.child(F::kSplitFieldNumber), what, pools, errors);
            break;
        case pb::Route::kStaticFiles:
            out.action = HttpRouteAction::kStatic;
            out.static_files = check_static_files(msg.static_files(), node.child(F::kStaticFilesFieldNumber), errors);
            break;
        case pb::Route::ACTION_NOT_SET:
            errors.add(node.self(), what + " has no action: set pool, split, redirect, respond or static_files");
    }
    out.strip_path_prefix = msg.strip_path_prefix();
    out.replace_path_prefix = msg.replace_path_prefix();
    const bool rewrites = out.strip_path_prefix || !out.replace_path_prefix.empty();
    if (out.strip_path_prefix && !out.replace_path_prefix.empty())
        errors.add(node.at(F::kReplacePathPrefixFieldNumber), "strip_path_prefix and replace_path_prefix are both set");
    if (rewrites && out.match.path_prefix.empty())
        errors.add(node.at(out.strip_path_prefix ? F::kStripPathPrefixFieldNumber : F::kReplacePathPrefixFieldNumber),
                   what + ": a path prefix rewrite needs match.path_prefix");
    if (!out.replace_path_prefix.empty() && !is_path(out.replace_path_prefix))
        errors.add(node.at(F::kReplacePathPrefixFieldNumber),
                   "bad replace_path_prefix " + quote(out.replace_path_prefix) + ": must start with '/'");
    out.request_headers = check_header_actions(msg.request_headers(), node.child(F::kRequestHeadersFieldNumber), errors);
    out.response_headers =
        check_header_actions(msg.response_headers(), node.child(F::kResponseHeadersFieldNumber), errors);
    if (msg.has_compression())
        out.compression = check_compression(msg.compression(), node.child(F::kCompressionFieldNumber), errors);
    out.compression_off = msg.compression_off();
    if (out.compression_off && msg.has_compression())
        errors.add(node.at(F::kCompressionOffFieldNumber), what + ": compression_off and compression are both set");
    if (msg.has_cache())
        out.cache = check_route_cache(msg.cache(), node.child(F::kCacheFieldNumber),
                                      out.action == HttpRouteAction::kPool || out.action == HttpRouteAction::kSplit,
                                      errors);
    if (msg.has_access()) out.access = check_access(msg.access(), node.child(F::kAccessFieldNumber), errors);
    if (msg.has_basic_auth())
        out.basic_auth = check_basic_auth(msg.basic_auth(), node.child(F::kBasicAuthFieldNumber), what, errors);
    check_route_extras(msg, node, what, timeouts, out, errors);
    return out;
}

HttpForwardedConfig check_forwarded(const pb::ForwardedHeaders& msg, const Node& node, Errors& errors) {
    using F = pb::ForwardedHeaders;
    HttpForwardedConfig out;
    for (int i = 0; i < msg.trusted_proxies_size(); ++i) {
        if (auto cidr = Cidr::parse(msg.trusted_proxies(i)))
            out.trusted_proxies.push_back(*cidr);
        else
            errors.add(node.at(F::kTrustedProxiesFieldNumber, i), "bad CIDR " + quote(msg.trusted_proxies(i)) +
                                                                      ": expected address/prefix, e.g. 10.0.0.0/8");
    }
    out.x_forwarded_for = msg.has_x_forwarded_for() ? msg.x_forwarded_for() : out.x_forwarded_for;
    out.x_real_ip = msg.has_x_real_ip() ? msg.x_real_ip() : out.x_real_ip;
    out.x_forwarded_proto = msg.has_x_forwarded_proto() ? msg.x_forwarded_proto() : out.x_forwarded_proto;
    out.x_forwarded_host = msg.has_x_forwarded_host() ? msg.x_forwarded_host() : out.x_forwarded_host;
    out.x_forwarded_port = msg.has_x_forwarded_port() ? msg.x_forwarded_port() : out.x_forwarded_port;
    out.forwarded = msg.forwarded();
    out.via = msg.via();
    return out;
}

HttpLimitsConfig check_limits(const pb::HttpLimits& msg, const Node& node, Errors& errors) {
    using F = pb::HttpLimits;
    HttpLimitsConfig out;
    out.max_header_bytes = or_default(msg.max_header_bytes(), out.max_header_bytes);
    out.max_header_count = or_default(msg.max_header_count(), out.max_header_count);
    out.max_uri_bytes = or_default(msg.max_uri_bytes(), out.max_uri_bytes);
    out.max_body_bytes = msg.max_body_bytes();
    if (out.max_header_bytes < kMinHeaderBytes || out.max_header_bytes > kMaxHeaderBytes)
        errors.add(node.at(F::kMaxHeaderBytesFieldNumber), "max_header_bytes " + std::to_string(out.max_header_bytes) +
                                                               " out of range " + std::to_string(kMinHeaderBytes) +
                                                               ".." + std::to_string(kMaxHeaderBytes));
    if (out.max_header_count > kMaxHeaderCount)
        errors.add(node.at(F::kMaxHeaderCountFieldNumber), "max_header_count " + std::to_string(out.max_header_count) +
                                                               " out of range 1.." + std::to_string(kMaxHeaderCount));
    if (out.max_uri_bytes < kMinUriBytes || out.max_uri_bytes > out.max_header_bytes)
        errors.add(node.at(F::kMaxUriBytesFieldNumber), "max_uri_bytes " + std::to_string(out.max_uri_bytes) +
                                                            " out of range " + std::to_string(kMinUriBytes) +
                                                            "..max_header_bytes (" +
                                                            std::to_string(out.max_header_bytes) + ")");
    return out;
}

HttpTimeoutsConfig check_timeouts(const pb::HttpTimeouts& msg) {
    HttpTimeoutsConfig out;
    out.client_header_ms = or_default(msg.client_header_ms(), out.client_header_ms);
    out.client_keep_alive_ms = or_default(msg.client_keep_alive_ms(), out.client_keep_alive_ms);
    out.server_connect_ms = msg.server_connect_ms();
    out.server_response_ms = or_default(msg.server_response_ms(), out.server_response_ms);
    out.body_idle_ms = or_default(msg.body_idle_ms(), out.body_idle_ms);
    out.server_idle_ms = or_default(msg.server_idle_ms(), out.server_idle_ms);
    return out;
}

bool is_error_page_status(uint32_t s) {
    static const uint32_t kStatuses[] = {400, 404, 408, 413, 414, 429, 431, 500, 501, 502, 503, 504, 505};
    return std::find(std::begin(kStatuses), std::end(kStatuses), s) != std::end(kStatuses);
}

std::vector<HttpErrorPage> check_error_pages(const pb::Http& msg, const Node& node, Errors& errors) {
    std::vector<HttpErrorPage> out;
    for (int i = 0; i < msg.error_pages_size(); ++i) {
        const pb::ErrorPage& page = msg.error_pages(i);
        Node page_node = node.child(pb::Http::kErrorPagesFieldNumber, i);
        const Loc status_at = page_node.at(pb::ErrorPage::kStatusFieldNumber);
        if (!is_error_page_status(page.status()))
            errors.add(status_at, "error page status " + std::to_string(page.status()) +
                                      " is not one lbd answers with (400, 404, 408, 413, 414, 429, 431, 500, 501, "
                                      "502, 503, 504, 505)");
        for (const HttpErrorPage& earlier : out)
            if (earlier.status == page.status())
                errors.add(status_at, "duplicate error page for status " + std::to_string(page.status()));
        if (page.body().size() > kMaxErrorBody)
            errors.add(page_node.at(pb::ErrorPage::kBodyFieldNumber),
                       "error page body is longer than " + std::to_string(kMaxErrorBody) + " bytes");
        HttpErrorPage typed;
        typed.status = static_cast<uint16_t>(page.status());
        typed.body = page.body();
        if (!page.content_type().empty()) {
            if (!is_field_value(page.content_type()))
                errors.add(page_node.at(pb::ErrorPage::kContentTypeFieldNumber),
                           "error page: bad content_type " + quote(page.content_type()));
            typed.content_type = page.content_type();
        }
        out.push_back(std::move(typed));
    }
    return out;
}

}  // namespace

Http2Config check_http2(const pb::Http2& msg, const Node& node, const HttpLimitsConfig& limits, Errors& errors) {
    using F = pb::Http2;
    Http2Config out;
    out.cleartext = msg.cleartext();
    out.max_concurrent_streams = or_default(msg.max_concurrent_streams(), out.max_concurrent_streams);
    // A client must be able to send the heads HTTP/1 takes. Unset, it is
    // limits.max_header_bytes, whose own check speaks of a wrong value.
    out.max_header_list_bytes = or_default(msg.max_header_list_bytes(), limits.max_header_bytes);
    if (msg.max_header_list_bytes() != 0 &&
        (out.max_header_list_bytes < kMinHeaderBytes || out.max_header_list_bytes > kMaxHeaderBytes))
        errors.add(node.at(F::kMaxHeaderListBytesFieldNumber),
                   "max_header_list_bytes must be " + std::to_string(kMinHeaderBytes) + ".." +
                       std::to_string(kMaxHeaderBytes));
    if (out.max_concurrent_streams > 10000)
        errors.add(node.at(F::kMaxConcurrentStreamsFieldNumber), "max_concurrent_streams must be 1..10000");
    out.max_resets_per_second = or_default(msg.max_resets_per_second(), out.max_resets_per_second);
    out.max_glitches = or_default(msg.max_glitches(), out.max_glitches);
    out.max_continuations = or_default(msg.max_continuations(), out.max_continuations);
    if (out.max_continuations > 1000)
        errors.add(node.at(F::kMaxContinuationsFieldNumber), "max_continuations must be 1..1000");
    out.max_control_frames_per_second =
        or_default(msg.max_control_frames_per_second(), out.max_control_frames_per_second);
    out.min_window_update_bytes = or_default(msg.min_window_update_bytes(), out.min_window_update_bytes);
    if (out.min_window_update_bytes > 16384)
        errors.add(node.at(F::kMinWindowUpdateBytesFieldNumber), "min_window_update_bytes must be 1..16384");
    out.idle_timeout_ms = msg.idle_timeout_ms();
    out.websocket = msg.websocket();
    return out;
}

HttpConfig check_http(const pb::Http& msg, const Node& node, const NameSet& pools, Errors& errors) {
    using F = pb::Http;
    HttpConfig out;
    NameSet route_names;
    out.timeouts = check_timeouts(msg.timeouts());
    for (int i = 0; i < msg.routes_size(); ++i)
        out.routes.push_back(check_route(msg.routes(i), node.child(F::kRoutesFieldNumber, i), i, route_names, pools,
                                         out.timeouts, errors));
    out.forwarded = check_forwarded(msg.forwarded(), node.child(F::kForwardedFieldNumber), errors);
    out.hide_server_headers = msg.hide_server_headers();
    out.normalize_path = !msg.has_normalize_path() || msg.normalize_path();
    out.request_headers = check_header_actions(msg.request_headers(), node.child(F::kRequestHeadersFieldNumber), errors);
    out.response_headers =
        check_header_actions(msg.response_headers(), node.child(F::kResponseHeadersFieldNumber), errors);
    check_header_templates(out.request_headers, node.child(F::kRequestHeadersFieldNumber), errors);
    check_header_templates(out.response_headers, node.child(F::kResponseHeadersFieldNumber),
                           errors);
    check_request_id(msg, node, out, errors);
    out.limits = check_limits(msg.limits(), node.child(F::kLimitsFieldNumber), errors);
    if (msg.has_compression())
        out.compression = check_compression(msg.compression(), node.child(F::kCompressionFieldNumber), errors);
    out.error_pages = check_error_pages(msg, node, errors);
    out.rate_limit_zones = check_rate_limit_zones(msg, node, errors);
    out.rate_limits =
        check_rate_limit_names(msg.rate_limits(), node, F::kRateLimitsFieldNumber, out.rate_limit_zones, errors);
    for (int i = 0; i < msg.routes_size(); ++i)
        out.routes[i].rate_limits =
            check_rate_limit_names(msg.routes(i).rate_limits(), node.child(F::kRoutesFieldNumber, i),
                                   pb::Route::kRateLimitsFieldNumber, out.rate_limit_zones, errors);
    if (msg.has_access()) out.access = check_access(msg.access(), node.child(F::kAccessFieldNumber), errors);
    switch (msg.log_format()) {
        case pb::HTTP_LOG_FORMAT_TEXT: out.log_format = HttpLogFormat::kText; break;
        case pb::HTTP_LOG_FORMAT_JSON: out.log_format = HttpLogFormat::kJson; break;
        default: errors.add(node.at(F::kLogFormatFieldNumber), "unknown log_format " + std::to_string(msg.log_format()));
    }
    if (msg.server_keep_alive_disabled() && msg.max_idle_per_server() != 0)
        errors.add(node.at(F::kMaxIdlePerServerFieldNumber),
                   "max_idle_per_server and server_keep_alive_disabled are both set");
    out.max_idle_per_server =
        msg.server_keep_alive_disabled() ? 0 : or_default(msg.max_idle_per_server(), out.max_idle_per_server);
    // Always: a TLS listener's h2 (ALPN) takes these defaults without a block.
    out.http2 = check_http2(msg.http2(), node.child(F::kHttp2FieldNumber), out.limits, errors);
    return out;
}

}  // namespace lbd::config_check
