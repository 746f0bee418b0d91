// Response rewriting of a route (config.proto Route.cookie_domain,
// cookie_path, redirect_rewrite, redirect_rewrite_default): what a server
// behind a prefix or on an internal name puts in Set-Cookie, Location and
// Refresh, made right for the client (nginx proxy_cookie_domain,
// proxy_cookie_path, proxy_redirect; Apache ProxyPassReverse,
// ProxyPassReverseCookieDomain/Path). Pure functions over a header list.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config/config_http.h"
#include "l7/http_message.h"

namespace lbd::l7 {

// Where the response is going and whence it came, for the default rewrite.
struct RedirectContext {
    std::string_view server_authority;  // "10.0.0.5:8080": the server that answered
    std::string_view client_scheme;     // "https"
    std::string_view client_host;       // the Host the client sent ("www.example.com:8443")
};

// The Set-Cookie value with its Domain and Path rewritten, or nullopt when no
// rule applies.
std::optional<std::string> rewrite_set_cookie(const HttpRouteConfig& route, std::string_view value);

// A redirect URL rewritten: the first redirect_rewrite whose `from` prefixes
// it, else (redirect_rewrite_default) the server's own authority made the
// client's and the route's path prefix rewrite undone. nullopt: unchanged.
std::optional<std::string> rewrite_redirect_url(const HttpRouteConfig& route, std::string_view url,
                                                const RedirectContext& context);

// Every Set-Cookie, Location and Refresh of `headers`, as the route says.
void rewrite_response_headers(const HttpRouteConfig& route, HeaderList& headers, const RedirectContext& context);

}  // namespace lbd::l7
