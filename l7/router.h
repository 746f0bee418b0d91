// Routing: which route of a listener takes a request, and what the route
// changes in it (path prefix) or answers instead (redirect location).
// Pure functions over the typed config and an owned request.
#pragma once

#include <string>
#include <string_view>

#include "core/config/config_http.h"
#include "l7/http_message.h"

namespace lbd::l7 {

bool host_matches(const HttpHostPattern& pattern, std::string_view host);
bool route_matches(const HttpRouteMatch& match, const RequestInfo& request);
// The first route that matches, or nullptr (the listener's default pool).
const HttpRouteConfig* match_route(const HttpConfig& config, const RequestInfo& request);

// Applies the route's strip_path_prefix / replace_path_prefix to request.path.
void rewrite_path(const HttpRouteConfig& route, RequestInfo& request);

// The Location of a redirect route for `request`, which arrived over
// `scheme` on a listener whose local port is `local_port`.
std::string redirect_location(const HttpRedirect& redirect, const RequestInfo& request, std::string_view scheme);

}  // namespace lbd::l7
