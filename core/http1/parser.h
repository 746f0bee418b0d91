// The strict HTTP/1.1 head parser (RFC 9112), for requests (the L7 proxy's client side) and
// responses (its server side, and the HTTP health probe). Section numbers are RFC 9112's unless
// another RFC is named.
//
// Why our own: no well-kept C library fits. Debian's http-parser is archived upstream, and llhttp
// is not packaged as a library in Debian 12; HAProxy and nginx own their parsers for the same
// reason, and because a proxy must decide itself what it refuses.
//
// Strict means ambiguity is refused, never repaired: a message that two implementations could
// frame differently (the root of request smuggling) is an error, see HttpError. Choices made:
//  - CRLF everywhere: a bare LF or bare CR is an error (§2.2 allows bare LF; we do not).
//  - Empty lines before a request line are skipped (§2.2 SHOULD); before a status line they are
//    an error.
//  - Only HTTP/1.0 and HTTP/1.1. "HTTP/1.2" or "HTTP/2.0" (well-formed) is kVersionNotSupported,
//    i.e. 505, rather than §2.3's "treat 1.2 as 1.1".
//  - Content-Length: 1*DIGIT with no sign, no list ("5, 5"), no second line even if equal, and no
//    leading zero ("0" itself is fine). The grammar allows "007", but a recipient reading it as
//    octal would frame differently, and no real sender pads it.
//  - Transfer-Encoding: the codings of §7 (chunked, gzip, x-gzip, deflate, compress, x-compress);
//    any other is kUnknownTransferCoding (501). No parameters, no empty list elements, chunked at
//    most once. Several lines are one list (RFC 9110 §5.3).
//  - Field values may hold obs-text (bytes >= 0x80, RFC 9110 §5.5): real traffic carries UTF-8
//    there and it cannot change framing. NUL and other controls (but HTAB) are refused.
//  - Host (requests): at most one line (any version), required in HTTP/1.1, may be empty, and must
//    be uri-host [":" port] with a port of 1..5 digits <= 65535 and no userinfo.
//  - A status line without reason phrase and its SP ("HTTP/1.1 200") is accepted: servers send it,
//    and a client must ignore the reason anyway (§4).
//  - Responses: 1xx, 204, 304 and responses to HEAD have no body, nor a 2xx to CONNECT (§6.3
//    items 1-2), whatever their fields say (the fields are still checked). A response whose last
//    coding is not chunked is read until close (§6.3 item 4).
//
// No allocation but the head's header vector (reused across the messages of a connection), no
// exceptions: untrusted bytes in, a status value out. Functions are reentrant and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/http1/chars.h"
#include "core/http1/types.h"

namespace lbd::http1 {

// One field line, as views into the parsed input.
struct HttpHeader {
    std::string_view name;   // a token, case preserved
    std::string_view value;  // OWS around it removed (RFC 9110 §5.5)
    bool hop_by_hop = false; // see is_hop_by_hop()
};

// What requests and responses share. Every view points into the input given to the parser, which
// must outlive the head.
struct HttpHead {
    HttpVersion version = HttpVersion::k11;
    // One vector, reserved on first use and kept by clear(), so a connection allocates it once.
    std::vector<HttpHeader> headers;

    // Body framing (§6.3) and the Content-Length value if one was sent (even when it does not
    // frame the body, as in a response to HEAD).
    BodyFraming framing = BodyFraming::kNone;
    bool has_content_length = false;
    uint64_t content_length = 0;

    // Whether the connection may carry another message after this one (§9.3): HTTP/1.1 unless
    // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive" (and no close). A response
    // read until close is never keep-alive.
    bool keep_alive = false;
    // Connection options seen (RFC 9110 §7.6.1). The full token list: walk the Connection
    // headers with next_list_element().
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool connection_upgrade = false;
    // The first Upgrade header's value, if any (RFC 9110 §7.8).
    std::string_view upgrade;

    void clear();
};

struct HttpRequestHead : HttpHead {
    HttpMethod method = HttpMethod::kOther;
    std::string_view method_token;  // always set, also for known methods
    std::string_view target;        // the request-target as sent
    TargetForm target_form = TargetForm::kOrigin;
    // Absolute- and authority-form: the authority from the target ("host:port"). Empty otherwise.
    std::string_view authority;
    // Origin-form: the target. Absolute-form: what follows the authority (empty means "/").
    // Authority- and asterisk-form: empty.
    std::string_view path;

    bool has_host = false;
    std::string_view host;  // the Host header's value (may be empty)
    // HTTP/1.1 with "Connection: upgrade" and an Upgrade header (RFC 9110 §7.8; an HTTP/1.0
    // Upgrade is ignored as that section says).
    bool upgrade_requested = false;
    // "Expect: 100-continue" in HTTP/1.1 (RFC 9110 §10.1.1; ignored in HTTP/1.0 as it says).
    bool expect_continue = false;

    void clear();
};

struct HttpResponseHead : HttpHead {
    int status = 0;
    std::string_view reason;
    // After this head the connection carries raw bytes both ways: 101 Switching Protocols, or a
    // 2xx to CONNECT (RFC 9110 §9.3.6, §15.2.2).
    bool tunnel = false;

    // 1xx other than 101: another response head follows for the same request (RFC 9110 §15.2).
    bool interim() const { return status >= 100 && status < 200 && status != 101; }
    void clear();
};

enum class HeadStatus : uint8_t {
    kComplete,    // the head was parsed; `consumed` bytes used
    kIncomplete,  // no error so far; call again when more bytes arrived
    kError,       // `error` says why
};

struct HeadParseResult {
    HeadStatus status = HeadStatus::kIncomplete;
    // Length of the head, final CRLF included, when kComplete: the body (or the next pipelined
    // message) starts at input[consumed].
    size_t consumed = 0;
    HttpError error = HttpError::kNone;
};

// Where an incomplete head's scan stopped, so the next call on the grown buffer scans only the new
// bytes. Optional: without it every call rescans from byte 0 (same results, more work). It is
// reset when a call returns kComplete or kError, ready for the next message. Only valid while the
// caller passes the same bytes again, grown at the end.
struct HeadScanState {
    size_t scanned = 0;           // [0, scanned) was searched for line ends
    size_t line_begin = 0;        // start of the line being scanned
    size_t start_line_begin = 0;  // start of the request/status line (past empty lines)
    size_t start_line_end = 0;    // just past the start line's CRLF; 0 while not seen
};

// Parses a request head from the start of `input`, which may hold more than the head (a body, the
// next pipelined request) or less (returns kIncomplete). Fails as soon as the bytes cannot become
// a valid head: a bad request line before its CRLF, a target past max_uri_bytes (414), no end of
// head within max_header_bytes (431). No prefix of a valid head is an error. Bytes past
// max_header_bytes are never read, so a caller pulling up a buffer need not pull up more.
//
// `out` is filled when kComplete. On kError it may hold the start line and part of the fields, for
// a log line only; on kIncomplete nothing in it is meaningful.
HeadParseResult parse_request_head(std::string_view input, const HttpLimits& limits, HttpRequestHead& out,
                                   HeadScanState* scan = nullptr);

// The same for a response head. `request_method` is the method of the request it answers: a HEAD
// or CONNECT request changes the framing (§6.3 items 1-2).
HeadParseResult parse_response_head(std::string_view input, HttpMethod request_method, const HttpLimits& limits,
                                    HttpResponseHead& out, HeadScanState* scan = nullptr);

// The method a token names (case-sensitive, RFC 9110 §9.1); kOther for any other token.
HttpMethod method_of(std::string_view token);

// Whether headers[i] must not be forwarded (RFC 9110 §7.6.1): Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and any field named in Connection.
// Computed once during the parse; O(1) here.
inline bool is_hop_by_hop(const HttpHead& head, size_t i) {
    return i < head.headers.size() && head.headers[i].hop_by_hop;
}

// Next element of a comma-separated list value (RFC 9110 §5.6.1), OWS trimmed; empty elements
// are skipped as that section asks. Consumes it from `rest`; nullopt when none is left.
//   std::string_view rest = value;
//   while (auto element = next_list_element(rest)) use(*element);
std::optional<std::string_view> next_list_element(std::string_view& rest);

// Whether any Connection header of `head` lists `option` (case-insensitive).
bool connection_lists(const HttpHead& head, std::string_view option);

}  // namespace lbd::http1
