#include "l7/router.h"

#include <algorithm>

namespace lbd::l7 {

bool host_matches(const HttpHostPattern& pattern, std::string_view host) {
    if (!pattern.wildcard) return host == pattern.text;
    // "*.example.com" takes any name under example.com, not example.com itself.
    return host.size() > pattern.suffix.size() &&
           host.compare(host.size() - pattern.suffix.size(), pattern.suffix.size(), pattern.suffix) == 0;
}

bool route_matches(const HttpRouteMatch& match, const RequestInfo& request, RegexGroups* groups) {
    if (!match.hosts.empty() && std::none_of(match.hosts.begin(), match.hosts.end(), [&](const HttpHostPattern& p) {
            return host_matches(p, request.host);
        }))
        return false;
    if (!match.path_exact.empty() && request.path != match.path_exact) return false;
    if (!match.path_prefix.empty() && request.path.compare(0, match.path_prefix.size(), match.path_prefix) != 0)
        return false;
    if (!match.methods.empty() && std::find(match.methods.begin(), match.methods.end(), request.method) == match.methods.end())
        return false;
    for (const HttpHeaderMatch& want : match.headers) {
        bool found = std::any_of(request.headers.begin(), request.headers.end(), [&](const auto& h) {
            return iequals(h.first, want.name) && (want.value.empty() || h.second == want.value);
        });
        if (!found) return false;
    }
    RegexGroups* host_groups = match.path_regex ? nullptr : groups;
    if (match.host_regex && !regex_match(*match.host_regex, request.host, host_groups)) return false;
    if (host_groups != nullptr && match.host_regex) host_groups->of_host = true;
    if (match.path_regex && !regex_match(*match.path_regex, request.path, groups)) return false;
    return true;
}

const HttpRouteConfig* match_route(const HttpConfig& config, const RequestInfo& request, RegexGroups* groups) {
    for (const HttpRouteConfig& route : config.routes) {
        if (!route_matches(route.match, request, groups)) continue;
        // Groups left by a route tried before must not show through one without a regex.
        if (groups != nullptr && !route.match.path_regex && !route.match.host_regex) *groups = RegexGroups{};
        return &route;
    }
    if (groups != nullptr) *groups = RegexGroups{};
    return nullptr;
}

bool rewrite_path_template(const HttpRouteConfig& route, const VariableSource& source, RequestInfo& request) {
    if (!route.rewrite_path.dynamic()) return false;
    std::string path;
    expand(route.rewrite_path, source, path);
    // A group may hold '?' only if the client sent it encoded (it is before '?'); an empty expansion is "/".
    if (path.empty() || path.front() != '/') path.insert(0, "/");
    request.path = std::move(path);
    return true;
}

void rewrite_path(const HttpRouteConfig& route, RequestInfo& request) {
    const std::string& prefix = route.match.path_prefix;
    if (prefix.empty() || request.path.compare(0, prefix.size(), prefix) != 0) return;
    if (route.strip_path_prefix) {
        request.path.erase(0, prefix.size());
    } else if (!route.replace_path_prefix.empty()) {
        std::string rest = request.path.substr(prefix.size());
        // "/v2/" + "/x" would double the slash.
        if (!route.replace_path_prefix.empty() && route.replace_path_prefix.back() == '/' && !rest.empty() &&
            rest.front() == '/')
            rest.erase(0, 1);
        request.path = route.replace_path_prefix + rest;
    } else {
        return;
    }
    if (request.path.empty() || request.path.front() != '/') request.path.insert(0, "/");
}

std::string redirect_location(const HttpRedirect& redirect, const RequestInfo& request, std::string_view scheme,
                              const VariableSource* source) {
    if (redirect.location_template.dynamic() && source != nullptr) {
        std::string location;
        expand(redirect.location_template, *source, location);
        return location;
    }
    if (!redirect.location.empty()) return redirect.location;
    std::string out_scheme = redirect.scheme.empty() ? std::string(scheme) : redirect.scheme;
    std::string host = redirect.host.empty() ? request.host : redirect.host;
    std::string location = out_scheme + "://" + host;
    // A port only when asked: the scheme's default otherwise.
    if (redirect.port != 0) location += ":" + std::to_string(redirect.port);
    std::string path = request.path == "*" ? "/" : request.path;
    return location + path + request.query;
}

}  // namespace lbd::l7
