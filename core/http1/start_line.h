// Internal to lbd_http1: the request line (RFC 9112 §3), the status line (§4) and the uri-host
// grammar that Host shares with request targets. Used by parser.cc.
#pragma once

#include <string_view>

#include "core/http1/parser.h"

namespace lbd::http1 {

// Checks a request line left to right and returns its first error. `complete`: `line` is the
// whole line without its CRLF; otherwise it is all that arrived (no LF yet, possibly ending with
// the CR), and only what those bytes already rule out is reported - so an error on a prefix is
// always the error of every line it can grow into. Fills `out` (when not null) on success.
HttpError check_request_line(std::string_view line, bool complete, const HttpLimits& limits, HttpRequestHead* out);

// The same for a status line.
HttpError check_status_line(std::string_view line, bool complete, HttpResponseHead* out);

// uri-host [":" port] (RFC 3986 §3.2.2-3.2.3, RFC 9110 §7.2): an IPv6 literal in brackets or a
// reg-name (unreserved, sub-delims, pct-encoded), then an optional port of 1 to 5 digits, at most
// 65535. No userinfo. The host may be empty only when `host_required` is false and no port follows.
bool is_valid_host_port(std::string_view text, bool host_required, bool port_required);

}  // namespace lbd::http1
