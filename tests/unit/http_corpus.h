// Messages for http_parser_test.cc: valid requests and responses with what the parser must find in
// them, and malformed and smuggling messages with the error each must get. Data only.
//
// Careful with hex escapes: "\x0b" "chunked" is split so that the 'c' does not join the escape.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/http1/types.h"

namespace http_corpus {

using lbd::http1::BodyFraming;
using lbd::http1::HttpError;
using lbd::http1::HttpMethod;
using lbd::http1::HttpVersion;
using lbd::http1::TargetForm;

struct ValidRequest {
    const char* name;
    std::string_view raw;  // head + body, nothing after
    HttpMethod method;
    std::string_view method_token;
    std::string_view target;
    TargetForm form;
    HttpVersion version;
    std::string_view host;  // expected Host value ("" also when absent; see has_host)
    bool has_host;
    BodyFraming framing;
    uint64_t content_length;
    bool keep_alive;
    bool upgrade_requested;
    bool expect_continue;
    size_t header_count;
    std::string_view body;  // decoded body
};

// A literal with embedded NULs, whole.
template <size_t N>
constexpr std::string_view sv(const char (&s)[N]) {
    return std::string_view(s, N - 1);
}

constexpr auto kGet = HttpMethod::kGet;
constexpr auto k11 = HttpVersion::k11;
constexpr auto k10 = HttpVersion::k10;
constexpr auto kOrigin = TargetForm::kOrigin;
constexpr auto kNone = BodyFraming::kNone;
constexpr auto kCl = BodyFraming::kContentLength;
constexpr auto kChunked = BodyFraming::kChunked;
constexpr auto kUntilClose = BodyFraming::kUntilClose;

// clang-format off
constexpr ValidRequest kValidRequests[] = {
    {"simple GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "example.com", true, kNone, 0, true, false, false, 1, ""},
    {"POST with Content-Length", "POST /submit?a=1 HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
     HttpMethod::kPost, "POST", "/submit?a=1", kOrigin, k11, "example.com", true, kCl, 11, true, false, false, 3, "hello world"},
    {"chunked with extensions and trailers",
     "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
     "5;ext=1\r\nhello\r\n6 ; a = \"q\\\"t\" ; b\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other:\tv \r\n\r\n",
     HttpMethod::kPost, "POST", "/upload", kOrigin, k11, "h", true, kChunked, 0, true, false, false, 3, "hello world"},
    {"chunked, leading zeros in sizes", "PUT /z HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n000\r\n\r\n",
     HttpMethod::kPut, "PUT", "/z", kOrigin, k11, "h", true, kChunked, 0, true, false, false, 2, "hello"},
    {"HTAB is OWS around chunked", "POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\t\r\n\r\n1\r\nx\r\n0\r\n\r\n",
     HttpMethod::kPost, "POST", "/t", kOrigin, k11, "h", true, kChunked, 0, true, false, false, 2, "x"},
    {"gzip then chunked", "POST /g HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
     HttpMethod::kPost, "POST", "/g", kOrigin, k11, "h", true, kChunked, 0, true, false, false, 2, "ab"},
    {"HTTP/1.0 keep-alive", "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
     kGet, "GET", "/old", kOrigin, k10, "", false, kNone, 0, true, false, false, 1, ""},
    {"HTTP/1.0 default close", "GET / HTTP/1.0\r\n\r\n",
     kGet, "GET", "/", kOrigin, k10, "", false, kNone, 0, false, false, false, 0, ""},
    {"HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "h", true, kNone, 0, false, false, false, 2, ""},
    {"absolute-form", "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
     kGet, "GET", "http://example.com:8080/a/b?c=d", TargetForm::kAbsolute, k11, "example.com:8080", true, kNone, 0, true, false, false, 1, ""},
    {"CONNECT authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
     HttpMethod::kConnect, "CONNECT", "example.com:443", TargetForm::kAuthority, k11, "example.com:443", true, kNone, 0, true, false, false, 1, ""},
    {"OPTIONS asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
     HttpMethod::kOptions, "OPTIONS", "*", TargetForm::kAsterisk, k11, "example.com", true, kNone, 0, true, false, false, 1, ""},
    {"websocket upgrade", "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
     kGet, "GET", "/chat", kOrigin, k11, "h", true, kNone, 0, true, true, false, 3, ""},
    {"Expect 100-continue", "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc",
     HttpMethod::kPut, "PUT", "/f", kOrigin, k11, "h", true, kCl, 3, true, false, true, 3, "abc"},
    {"empty lines before the request line", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "h", true, kNone, 0, true, false, false, 1, ""},
    {"tabs as OWS, empty value", "GET / HTTP/1.1\r\nHost:\th\t\r\nX-Empty:\r\nX-Sp:   \r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "h", true, kNone, 0, true, false, false, 3, ""},
    {"obs-text in a value", "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "h", true, kNone, 0, true, false, false, 2, ""},
    {"unknown method, browser-style query", "PURGE /x?a[]=1&b={|}^%zz HTTP/1.1\r\nHost: h\r\n\r\n",
     HttpMethod::kOther, "PURGE", "/x?a[]=1&b={|}^%zz", kOrigin, k11, "h", true, kNone, 0, true, false, false, 1, ""},
    {"lower-case method is another method", "get / HTTP/1.1\r\nHost: h\r\n\r\n",
     HttpMethod::kOther, "get", "/", kOrigin, k11, "h", true, kNone, 0, true, false, false, 1, ""},
    {"field names in any case", "POST / HTTP/1.1\r\nHOST: h\r\ncontent-LENGTH: 2\r\n\r\nok",
     HttpMethod::kPost, "POST", "/", kOrigin, k11, "h", true, kCl, 2, true, false, false, 2, "ok"},
    {"IPv6 host", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "[2001:db8::1]:8080", true, kNone, 0, true, false, false, 1, ""},
    {"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
     kGet, "GET", "/", kOrigin, k11, "", true, kNone, 0, true, false, false, 1, ""},
    {"Content-Length 0", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
     HttpMethod::kPost, "POST", "/", kOrigin, k11, "h", true, kCl, 0, true, false, false, 2, ""},
    {"HTTP/1.0 upgrade and expect are ignored", "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: x\r\nExpect: 100-continue\r\n\r\n",
     kGet, "GET", "/", kOrigin, k10, "", false, kNone, 0, false, false, false, 3, ""},
};

struct ValidResponse {
    const char* name;
    std::string_view raw;  // head + body; an until-close body is everything after the head
    HttpMethod request_method;
    int status;
    std::string_view reason;
    HttpVersion version;
    BodyFraming framing;
    bool has_content_length;
    uint64_t content_length;
    bool keep_alive;
    bool tunnel;
    bool interim;
    std::string_view body;
};

constexpr ValidResponse kValidResponses[] = {
    {"200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
     kGet, 200, "OK", k11, kCl, true, 5, true, false, false, "hello"},
    {"200 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     kGet, 200, "OK", k11, kChunked, false, 0, true, false, false, "abc"},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", kGet, 204, "No Content", k11, kNone, false, 0, true, false, false, ""},
    {"304 with Content-Length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
     kGet, 304, "Not Modified", k11, kNone, true, 100, true, false, false, ""},
    {"response to HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
     HttpMethod::kHead, 200, "OK", k11, kNone, true, 1234, true, false, false, ""},
    {"response to HEAD, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     HttpMethod::kHead, 200, "OK", k11, kNone, false, 0, true, false, false, ""},
    {"101 upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
     kGet, 101, "Switching Protocols", k11, kNone, false, 0, true, true, false, ""},
    {"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", HttpMethod::kPut, 100, "Continue", k11, kNone, false, 0, true, false, true, ""},
    {"until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall the rest\r\n\r\n",
     kGet, 200, "OK", k11, kUntilClose, false, 0, false, false, false, "all the rest\r\n\r\n"},
    {"HTTP/1.0 until close", "HTTP/1.0 200 OK\r\n\r\nold", kGet, 200, "OK", k10, kUntilClose, false, 0, false, false, false, "old"},
    {"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
     kGet, 200, "OK", k10, kCl, true, 2, true, false, false, "hi"},
    {"gzip, not chunked: until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
     kGet, 200, "OK", k11, kUntilClose, false, 0, false, false, false, "zzz"},
    {"CONNECT established", "HTTP/1.1 200 Connection Established\r\n\r\n",
     HttpMethod::kConnect, 200, "Connection Established", k11, kNone, false, 0, true, true, false, ""},
    {"CONNECT refused has a body", "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
     HttpMethod::kConnect, 403, "Forbidden", k11, kCl, true, 2, true, false, false, "no"},
    {"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", kGet, 200, "", k11, kCl, true, 0, true, false, false, ""},
    {"empty reason phrase", "HTTP/1.1 404 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
     kGet, 404, "", k11, kCl, true, 0, false, false, false, ""},
};

struct MalformedMessage {
    const char* name;
    std::string_view raw;
    HttpError error;
};

// Requests the head parser must refuse, each with the rule that fires.
constexpr MalformedMessage kMalformedRequests[] = {
    // Request line.
    {"double SP", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadRequestLine},
    {"leading SP", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadRequestLine},
    {"no version", "GET /\r\nHost: h\r\n\r\n", HttpError::kBadRequestLine},
    {"method only", "GET\r\nHost: h\r\n\r\n", HttpError::kBadRequestLine},
    {"HTAB as separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadMethod},
    {"non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadMethod},
    {"method too long", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadMethod},
    {"trailing SP", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", HttpError::kBadVersion},
    {"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", HttpError::kBadVersion},
    {"short version", "GET / HTTP/1\r\nHost: h\r\n\r\n", HttpError::kBadVersion},
    {"two-digit minor", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", HttpError::kBadVersion},
    {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", HttpError::kVersionNotSupported},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", HttpError::kVersionNotSupported},
    {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", HttpError::kVersionNotSupported},
    {"fragment in target", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"asterisk for GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"origin-form for CONNECT", "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"authority-form for GET", "GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"absolute-form, empty host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"absolute-form with userinfo", "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    {"absolute-form without //", "GET urn:isbn:1 HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBadTarget},
    // Line structure.
    {"bare LF everywhere", "GET / HTTP/1.1\nHost: h\n\n", HttpError::kBareLf},
    {"bare LF after a field", "GET / HTTP/1.1\r\nHost: h\n\r\n", HttpError::kBareLf},
    {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: h\r\n\n", HttpError::kBareLf},
    {"bare CR in a value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", HttpError::kBareCr},
    {"bare CR in a name", "GET / HTTP/1.1\r\nHost: h\r\nX\rY: a\r\n\r\n", HttpError::kBareCr},
    {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", HttpError::kBareCr},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", HttpError::kObsFold},
    {"obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", HttpError::kObsFold},
    {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", HttpError::kObsFold},
    // Field lines.
    {"SP before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HttpError::kSpaceBeforeColon},
    {"HTAB before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", HttpError::kSpaceBeforeColon},
    {"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", HttpError::kEmptyHeaderName},
    {"non-token name", "GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", HttpError::kBadHeaderName},
    {"SP inside a name", "GET / HTTP/1.1\r\nHost: h\r\nX y: z\r\n\r\n", HttpError::kBadHeaderName},
    {"NUL in a name", sv("GET / HTTP/1.1\r\nHost: h\r\nX\0: z\r\n\r\n"), HttpError::kBadHeaderName},
    {"no colon", "GET / HTTP/1.1\r\nHost: h\r\nFoo\r\n\r\n", HttpError::kMissingColon},
    {"NUL in a value", sv("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"), HttpError::kBadHeaderValue},
    {"control in a value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", HttpError::kBadHeaderValue},
    {"DEL in a value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", HttpError::kBadHeaderValue},
    // Host (RFC 9112 §3.2).
    {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HttpError::kMissingHost},
    {"two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", HttpError::kDuplicateHost},
    {"two Host lines in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", HttpError::kDuplicateHost},
    {"Host with SP", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HttpError::kBadHost},
    {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", HttpError::kBadHost},
    {"Host with empty port", "GET / HTTP/1.1\r\nHost: h:\r\n\r\n", HttpError::kBadHost},
    {"Host with port out of range", "GET / HTTP/1.1\r\nHost: h:65536\r\n\r\n", HttpError::kBadHost},
    {"Host with bad pct-encoding", "GET / HTTP/1.1\r\nHost: h%zz\r\n\r\n", HttpError::kBadHost},
    {"Host with unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", HttpError::kBadHost},
    // Connection.
    {"Connection not a token list", "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep alive\r\n\r\n", HttpError::kBadConnection},
    // Content-Length.
    {"empty Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", HttpError::kBadContentLength},
    {"non-digit Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", HttpError::kBadContentLength},
    {"Content-Length with inner SP", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", HttpError::kBadContentLength},
    {"Content-Length with leading zero", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 05\r\n\r\nhello", HttpError::kBadContentLength},
    {"Content-Length 00", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n", HttpError::kBadContentLength},
    {"Content-Length overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", HttpError::kContentLengthOverflow},
    {"Content-Length 2^63", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", HttpError::kContentLengthOverflow},
    {"two equal Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", HttpError::kDuplicateContentLength},
    {"two different Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", HttpError::kDuplicateContentLength},
    // Transfer-Encoding.
    {"gzip alone", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", HttpError::kChunkedNotFinal},
    {"chunked then gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", HttpError::kChunkedNotFinal},
    {"unknown coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", HttpError::kUnknownTransferCoding},
    {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HttpError::kTransferEncodingInHttp10},
    {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", HttpError::kBadTransferEncoding},
    {"coding with a parameter", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", HttpError::kBadTransferEncoding},
    {"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError::kContentLengthAndTransferEncoding},
};

// Responses the head parser must refuse (the proxy answers 502 for each).
constexpr MalformedMessage kMalformedResponses[] = {
    {"status below 100", "HTTP/1.1 099 Odd\r\n\r\n", HttpError::kBadStatusCode},
    {"status above 599", "HTTP/1.1 600 Odd\r\n\r\n", HttpError::kBadStatusCode},
    {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", HttpError::kBadStatusLine},
    {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", HttpError::kBadStatusLine},
    {"HTTP/2 shorthand", "HTTP/2 200 OK\r\n\r\n", HttpError::kBadStatusLine},
    {"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", HttpError::kVersionNotSupported},
    {"not HTTP", "ICY 200 OK\r\n\r\n", HttpError::kBadStatusLine},
    {"empty line first", "\r\nHTTP/1.1 200 OK\r\n\r\n", HttpError::kBadStatusLine},
    {"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", HttpError::kBadStatusLine},
    {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", HttpError::kBareLf},
    {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", HttpError::kObsFold},
    {"SP before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", HttpError::kSpaceBeforeColon},
    {"two Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", HttpError::kDuplicateContentLength},
    {"Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError::kContentLengthAndTransferEncoding},
    {"unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n", HttpError::kUnknownTransferCoding},
    {"Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError::kTransferEncodingInHttp10},
    {"bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HttpError::kBadContentLength},
};

// Request smuggling: messages that two HTTP implementations may frame differently. Every one must
// be refused, by the head parser or by the body decoder, with the error given.
constexpr MalformedMessage kSmuggling[] = {
    // CL.TE and TE.CL.
    {"CL.TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED", HttpError::kContentLengthAndTransferEncoding},
    {"TE.CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", HttpError::kContentLengthAndTransferEncoding},
    {"CL.TE, HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HttpError::kTransferEncodingInHttp10},
    // TE.TE obfuscations.
    {"xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", HttpError::kUnknownTransferCoding},
    {"SP before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", HttpError::kSpaceBeforeColon},
    {"chunked, identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", HttpError::kUnknownTransferCoding},
    {"vertical tab before chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n0\r\n\r\n", HttpError::kBadHeaderValue},
    {"form feed after chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x0c\r\n\r\n0\r\n\r\n", HttpError::kBadHeaderValue},
    {"two lines: chunked + identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", HttpError::kUnknownTransferCoding},
    {"two lines: chunked + chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HttpError::kBadTransferEncoding},
    {"two lines: chunked + gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", HttpError::kChunkedNotFinal},
    {"quoted chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", HttpError::kBadTransferEncoding},
    {"empty list element", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", HttpError::kBadTransferEncoding},
    {"folded Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", HttpError::kObsFold},
    {"bare LF before Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nX: y\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HttpError::kBareLf},
    {"bare CR before Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nX: y\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HttpError::kBareCr},
    // Content-Length obfuscations.
    {"CL +5", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", HttpError::kBadContentLength},
    {"CL -5", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\nhello", HttpError::kBadContentLength},
    {"CL 5, 5", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", HttpError::kBadContentLength},
    {"CL 0x5", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", HttpError::kBadContentLength},
    {"CL 005", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\n\r\nhello", HttpError::kBadContentLength},
    {"CL 5.0", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5.0\r\n\r\nhello", HttpError::kBadContentLength},
    {"CL twice", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", HttpError::kDuplicateContentLength},
    {"CL vertical tab", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\x0b" "5\r\n\r\nhello", HttpError::kBadHeaderValue},
    {"CL wraps to 5", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551621\r\n\r\nhello", HttpError::kContentLengthOverflow},
    // Chunk sizes.
    {"chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n", HttpError::kChunkSizeOverflow},
    {"chunk size 2^64+5", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", HttpError::kChunkSizeOverflow},
    {"chunk size 0x5", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkSize},
    {"negative chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkSize},
    {"chunk size +5", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkSize},
    {"SP before chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkSize},
    {"SP after chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"bare LF after chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", HttpError::kBareLf},
    {"chunk longer than its size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", HttpError::kMissingChunkCrlf},
    {"chunk data with bare LF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", HttpError::kMissingChunkCrlf},
    {"empty chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkSize},
    {"bare CR ends the trailers", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX", HttpError::kBareCr},
};

// Chunked bodies (without the head) the decoder must refuse.
constexpr MalformedMessage kMalformedChunked[] = {
    {"empty extension name", "5;\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"extension without value", "5;a=\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"extension value with SP", "5;a=b c\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"unterminated quoted value", "5;a=\"b\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"extension without name", "5;=b\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"two names", "5;a b\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"BWS then CR after a name", "5;a \r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"control in quoted value", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", HttpError::kBadChunkExtension},
    {"non-hex size", "g\r\n", HttpError::kBadChunkSize},
    {"CR without LF after size", "5\rhello", HttpError::kBareCr},
    {"no CRLF after data", "5\r\nhelloX", HttpError::kMissingChunkCrlf},
    {"CR then no LF after data", "5\r\nhello\rX", HttpError::kMissingChunkCrlf},
    {"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", HttpError::kObsFold},
    {"trailer SP before colon", "0\r\nX : a\r\n\r\n", HttpError::kSpaceBeforeColon},
    {"trailer SP in name", "0\r\nX Y: a\r\n\r\n", HttpError::kBadHeaderName},
    {"trailer empty name", "0\r\n: a\r\n\r\n", HttpError::kEmptyHeaderName},
    {"trailer without colon", "0\r\nX\r\n\r\n", HttpError::kMissingColon},
    {"trailer bad name", "0\r\nX(: a\r\n\r\n", HttpError::kBadHeaderName},
    {"trailer NUL value", sv("0\r\nX: a\0\r\n\r\n"), HttpError::kBadHeaderValue},
    {"trailer bare LF", "0\r\nX: a\nY: b\r\n\r\n", HttpError::kBareLf},
    {"trailer bare CR", "0\r\nX: a\rY: b\r\n\r\n", HttpError::kBareCr},
    {"trailers end with bare LF", "0\r\n\n", HttpError::kBareLf},
};
// clang-format on

}  // namespace http_corpus
