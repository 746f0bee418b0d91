// A request path put in the one form that every equivalent spelling shares,
// before routes, access rules and the cache see it: otherwise a route that
// guards "/admin/" is walked around by "/%61dmin/", "//admin/" or
// "/x/../admin/", which the server behind resolves to the same resource
// (nginx matches locations on such a normalised URI; Envoy's normalize_path
// and merge_slashes do the same).
#pragma once

#include <string>

namespace lbd::http1 {

// Rewrites `path` (the part of an origin-form target before '?') in place:
//  - percent-encoded unreserved characters decoded (RFC 3986 §6.2.2.2:
//    "%61" is "a", "%2E" is "."), other escapes' hex digits upper-cased
//    (§6.2.2.1), so the result means what the original did;
//  - runs of '/' merged into one (nginx's merge_slashes);
//  - "." and ".." segments removed (§5.2.4; ".." at the root stays there).
// An encoded '/' or '\' ("%2F", "%5C") is left encoded: decoding it would
// change the path's segments. A '%' not followed by two hex digits is taken
// as a literal '%' and written "%25" (never a new escape: "%%32E" is
// "%252E", not "%2E"). Returns whether anything changed. The usual path (no '%', no
// "//", no dot segment) is scanned once and left alone.
bool normalize_path(std::string& path);

}  // namespace lbd::http1
