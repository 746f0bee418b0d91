// Cookies in HTTP heads: reading one cookie from a request's Cookie
// header(s), removing it, reading a response's Set-Cookie for one name, and
// writing lbd's own Set-Cookie. Pure functions over header lists, unit-tested
// in tests/unit/cookie_header_test.cc.
//
// Parsing follows what servers see from real clients rather than the
// strictest grammar (RFC 6265 §4.2.1 vs §5.4): pairs split on ';' with any
// spaces or tabs around them, several Cookie headers (HTTP/2 gateways and
// some clients split them), names compared exactly and case-sensitively (so
// "LBSRV" never matches "XLBSRV" or "LBSRV2"), a value in DQUOTEs taken
// without them, the first occurrence winning (the browser sends the most
// specific path first, §5.4 step 2). Commas are not separators: values may
// hold them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "l7/http_message.h"

namespace lbd::l7 {

// The value of cookie `name` in the request's Cookie header(s), or nullopt.
std::optional<std::string> request_cookie(const HeaderList& headers, std::string_view name);

// Removes every pair named `name` from the Cookie header(s); a header left
// with no pair is removed. Other pairs keep their order and text.
void remove_request_cookie(HeaderList& headers, std::string_view name);

// What a response's Set-Cookie headers say about cookie `name` (the last
// one wins, as in the browser's jar).
struct SetCookieSeen {
    std::string value;
    // Empty value, or Max-Age <= 0: the application ends the session.
    // (An Expires in the past is not parsed: such a cookie is learned and
    // then simply ages out of the table.)
    bool deleted = false;
};
std::optional<SetCookieSeen> response_set_cookie(const HeaderList& headers, std::string_view name);

// "NAME=value; Path=/; Max-Age=N; Domain=d; Secure; HttpOnly; SameSite=Lax"
// as `config` says (INSERT mode).
std::string insert_cookie_value(const CookieStickinessConfig& config, std::string_view value);

// Keeps shared caches from storing the Set-Cookie lbd added (RFC 9111
// §5.2.2.4, the qualified no-cache: the body stays cacheable, the cookie is
// never replayed to another client). A Cache-Control that is already
// private, no-cache or no-store is left alone.
void forbid_caching_set_cookie(HeaderList& headers);

}  // namespace lbd::l7
