// Routing: which route of a listener takes a request, and what the route
// changes in it (path prefix) or answers instead (redirect location).
// Pure functions over the typed config and an owned request.
#pragma once

#include <string>
#include <string_view>

#include "core/config/config_http.h"
#include "l7/config/route_regex.h"
#include "l7/http_message.h"
#include "l7/variables.h"

namespace lbd::l7 {

bool host_matches(const HttpHostPattern& pattern, std::string_view host);
// Whether every condition of `match` holds; the regexes are tried last (the
// other conditions are cheaper). `groups`, if given, gets the path regex's
// groups (or the host regex's when the route has no path regex).
bool route_matches(const HttpRouteMatch& match, const RequestInfo& request, RegexGroups* groups = nullptr);
// The first route that matches, in the configured order whatever its
// conditions (exact, prefix, regex: config.proto Http.routes says how to
// order them as nginx would), or nullptr (the listener's default pool).
const HttpRouteConfig* match_route(const HttpConfig& config, const RequestInfo& request,
                                   RegexGroups* groups = nullptr);

// Applies the route's strip_path_prefix / replace_path_prefix to request.path.
void rewrite_path(const HttpRouteConfig& route, RequestInfo& request);

// Applies the route's rewrite_path (its regex's groups in `source`), when it
// has one: request.path becomes the expansion; the query stays. Whether it did.
bool rewrite_path_template(const HttpRouteConfig& route, const VariableSource& source, RequestInfo& request);

// The Location of a redirect route for `request`, which arrived over
// `scheme` on a listener whose local port is `local_port`. A location with
// variables or groups is expanded from `source` (needed then).
std::string redirect_location(const HttpRedirect& redirect, const RequestInfo& request, std::string_view scheme,
                              const VariableSource* source = nullptr);

}  // namespace lbd::l7
