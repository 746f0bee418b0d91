#include "l7/response_rewrite.h"

#include <algorithm>

namespace lbd::l7 {
namespace {

// One attribute of a Set-Cookie ("Domain=.example.com"), rewritten; nullopt = drop it.
std::optional<std::string> rewrite_attribute(const HttpRouteConfig& route, std::string_view attribute, bool& changed) {
    const std::string_view a = trim_ows(attribute);
    if (istarts_with(a, "domain=") && !route.cookie_domain.empty()) {
        std::string domain(trim_ows(a.substr(7)));
        std::transform(domain.begin(), domain.end(), domain.begin(), http1::to_lower_ascii);
        if (!domain.empty() && domain.front() == '.') domain.erase(0, 1);
        for (const HttpRewrite& rule : route.cookie_domain) {
            if (rule.from != domain) continue;
            changed = true;
            if (rule.to.empty()) return std::nullopt;
            return " Domain=" + rule.to;
        }
    } else if (istarts_with(a, "path=") && !route.cookie_path.empty()) {
        const std::string_view path = trim_ows(a.substr(5));
        for (const HttpRewrite& rule : route.cookie_path) {
            if (path.substr(0, rule.from.size()) != rule.from) continue;
            changed = true;
            return " Path=" + rule.to + std::string(path.substr(rule.from.size()));
        }
    }
    return std::string(attribute);
}

// `path` of the server's URL as the client knows it: the route's prefix rewrite undone.
std::string unrewrite_path(const HttpRouteConfig& route, std::string_view path) {
    const std::string& prefix = route.match.path_prefix;
    if (prefix.empty()) return std::string(path);
    if (!route.replace_path_prefix.empty()) {
        const std::string& replaced = route.replace_path_prefix;
        if (path.substr(0, replaced.size()) != replaced) return std::string(path);
        path.remove_prefix(replaced.size());
    } else if (!route.strip_path_prefix) {
        return std::string(path);
    }
    std::string out = prefix;
    // "/api/" + "/x" or "/api" + "x": one slash between them.
    if (!out.empty() && out.back() == '/' && !path.empty() && path.front() == '/') path.remove_prefix(1);
    if ((out.empty() || out.back() != '/') && !path.empty() && path.front() != '/' && path.front() != '?') out += '/';
    return out + std::string(path);
}

std::optional<std::string> default_rewrite(const HttpRouteConfig& route, std::string_view url,
                                           const RedirectContext& context) {
    if (!url.empty() && url.front() == '/' && (url.size() < 2 || url[1] != '/')) {
        std::string out = unrewrite_path(route, url);
        if (out == url) return std::nullopt;
        return out;
    }
    for (std::string_view scheme : {"http://", "https://"}) {
        if (!istarts_with(url, scheme)) continue;
        std::string_view rest = url.substr(scheme.size());
        if (context.server_authority.empty() || !istarts_with(rest, context.server_authority)) return std::nullopt;
        rest.remove_prefix(context.server_authority.size());
        if (!rest.empty() && rest.front() != '/' && rest.front() != '?') return std::nullopt;  // a longer port
        return std::string(context.client_scheme) + "://" + std::string(context.client_host) +
               unrewrite_path(route, rest.empty() ? std::string_view("/") : rest);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> rewrite_set_cookie(const HttpRouteConfig& route, std::string_view value) {
    if (route.cookie_domain.empty() && route.cookie_path.empty()) return std::nullopt;
    bool changed = false;
    std::string out;
    size_t start = 0;
    bool first = true;
    while (start <= value.size()) {
        const size_t semi = value.find(';', start);
        const std::string_view piece = value.substr(start, semi == std::string_view::npos ? semi : semi - start);
        // The first piece is NAME=value: never an attribute.
        std::optional<std::string> kept = first ? std::optional<std::string>(std::string(piece))
                                                : rewrite_attribute(route, piece, changed);
        if (kept) out += (first ? "" : ";") + *kept;
        first = false;
        if (semi == std::string_view::npos) break;
        start = semi + 1;
    }
    if (!changed) return std::nullopt;
    return out;
}

std::optional<std::string> rewrite_redirect_url(const HttpRouteConfig& route, std::string_view url,
                                                const RedirectContext& context) {
    for (const HttpRewrite& rule : route.redirect_rewrite)
        if (url.substr(0, rule.from.size()) == rule.from) return rule.to + std::string(url.substr(rule.from.size()));
    if (route.redirect_rewrite_default) return default_rewrite(route, url, context);
    return std::nullopt;
}

void rewrite_response_headers(const HttpRouteConfig& route, HeaderList& headers, const RedirectContext& context) {
    const bool redirects = !route.redirect_rewrite.empty() || route.redirect_rewrite_default;
    for (auto& [name, value] : headers) {
        if (iequals(name, "set-cookie")) {
            if (auto out = rewrite_set_cookie(route, value)) value = std::move(*out);
        } else if (redirects && iequals(name, "location")) {
            if (auto out = rewrite_redirect_url(route, trim_ows(value), context)) value = std::move(*out);
        } else if (redirects && iequals(name, "refresh")) {
            // "5; url=https://..." (the HTML meta refresh syntax): the URL after "url=".
            std::string lower = value;
            std::transform(lower.begin(), lower.end(), lower.begin(), http1::to_lower_ascii);
            const size_t at = lower.find("url=");
            if (at == std::string::npos) continue;
            if (auto out = rewrite_redirect_url(route, trim_ows(std::string_view(value).substr(at + 4)), context))
                value = value.substr(0, at + 4) + *out;
        }
    }
}

}  // namespace lbd::l7
