// Cache deception armor (Cloudflare's name): a response is stored only if
// its Content-Type is one the request path's file extension can carry.
//
// The attack (web cache deception, Omer Gil 2017): a victim is lured to
// GET /account/profile.php/x.css; the origin ignores the suffix and answers
// the victim's private HTML page; a cache that stores by extension ("css is
// static") keeps it under that URL for everyone, and the attacker fetches
// it. Here the last path segment's extension must agree with the response:
// x.css with text/html is passed through and not stored. Paths without an
// extension in the table below are not judged. Pure functions; unit-tested
// in tests/unit/cache_policy_test.cc.
#pragma once

#include <string_view>

namespace lbd::l7 {

// The extension of `path`'s last segment (lower case, without the dot) if
// it is one the table knows, else empty. `path` has no query.
std::string_view known_extension(std::string_view path);

// Whether a response with `content_type` (the field's value, parameters
// allowed; null: none) may be stored for a request of `path`: always for a
// path without a known extension, else only when the type is one the
// extension can carry (.css: text/css; .js: a JavaScript type; .png: an
// image; ...). A missing Content-Type does not match a known extension.
bool content_type_fits_extension(std::string_view path, const std::string* content_type);

}  // namespace lbd::l7
