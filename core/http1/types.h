// Plain types of the HTTP/1.1 parser: enums, limits, the typed error. Cheap to include anywhere
// (HAProxy's *-t.h habit); the functions live in core/http1/parser.h and core/http1/body.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lbd::http1 {

// Only these two are accepted (RFC 9112 §2.3); anything else is an error.
enum class HttpVersion : uint8_t { k10, k11 };

// Methods the proxy treats specially or logs by name (RFC 9110 §9, RFC 5789 for PATCH). Method
// names are case-sensitive (RFC 9110 §9.1): "get" is kOther, and the token is always kept.
enum class HttpMethod : uint8_t { kGet, kHead, kPost, kPut, kDelete, kConnect, kOptions, kTrace, kPatch, kOther };

// RFC 9112 §3.2: the four shapes of a request-target.
enum class TargetForm : uint8_t {
    kOrigin,     // "/path?query"                      (§3.2.1)
    kAbsolute,   // "http://host:port/path?query"       (§3.2.2)
    kAuthority,  // "host:port", CONNECT only           (§3.2.3)
    kAsterisk,   // "*", OPTIONS only                   (§3.2.4)
};

// How the body of a message is delimited (RFC 9112 §6.3).
enum class BodyFraming : uint8_t {
    kNone,           // no body at all
    kContentLength,  // exactly HttpHead::content_length bytes (possibly 0)
    kChunked,        // chunked transfer coding, ends with the last chunk and trailers
    kUntilClose,     // responses only: everything until the server closes
};

// Why a message was rejected. One value per rule, so a log line says which rule fired;
// http_status() maps each to the status a request gets, to_string() to a short text. An error in
// a *response* is always a 502 for the client, whatever its kind.
enum class HttpError : uint8_t {
    kNone,
    // Start line (RFC 9112 §3, §4).
    kBadRequestLine,       // 400 missing or doubled SP, missing version, empty line
    kBadMethod,            // 400 method is not a token, or longer than kMaxMethodLength
    kBadTarget,            // 400 bad character, or a form the method does not allow (§3.2)
    kUriTooLong,           // 414 target longer than HttpLimits::max_uri_bytes
    kBadVersion,           // 400 not "HTTP/" DIGIT "." DIGIT (§2.3)
    kVersionNotSupported,  // 505 well-formed but not HTTP/1.0 or HTTP/1.1
    kBadStatusLine,        // response: not "HTTP/1.x NNN reason"
    kBadStatusCode,        // response: status code outside 100..599 (RFC 9110 §15)
    // Line structure and field lines (RFC 9112 §2.2, §5).
    kBareLf,               // 400 LF not preceded by CR
    kBareCr,               // 400 CR not followed by LF
    kObsFold,              // 400 a line starting with SP/HTAB: obs-fold (§5.2) or §2.2 whitespace
    kEmptyHeaderName,      // 400 line starting with ':'
    kBadHeaderName,        // 400 name is not a token
    kMissingColon,         // 400 field line without ':'
    kSpaceBeforeColon,     // 400 whitespace between name and colon (§5.1)
    kBadHeaderValue,       // 400 NUL or another control character in a value (RFC 9110 §5.5)
    kHeadersTooLarge,      // 431 head longer than HttpLimits::max_header_bytes
    kTooManyHeaders,       // 431 more than HttpLimits::max_header_count field lines
    // Fields the parser interprets.
    kMissingHost,          // 400 HTTP/1.1 request without Host (RFC 9112 §3.2)
    kDuplicateHost,        // 400 more than one Host line (RFC 9112 §3.2)
    kBadHost,              // 400 Host is not uri-host [":" port]
    kBadConnection,        // 400 Connection is not a list of tokens (RFC 9110 §7.6.1)
    kBadContentLength,     // 400 empty, non-digit, list, sign, or leading zero
    kContentLengthOverflow,  // 400 more than 2^63-1
    kDuplicateContentLength,  // 400 more than one Content-Length line (even if equal)
    kContentLengthAndTransferEncoding,  // 400 both present (RFC 9112 §6.3 item 3)
    kTransferEncodingInHttp10,  // 400 Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1)
    kBadTransferEncoding,  // 400 empty element, parameters, or chunked applied twice
    kChunkedNotFinal,      // 400 request whose last transfer coding is not chunked (§6.3 item 4)
    kUnknownTransferCoding,  // 501 a coding not in RFC 9112 §7 (RFC 9112 §6.1)
    kBodyTooLarge,         // 413 body longer than HttpLimits::max_body_bytes
    // Chunked body (RFC 9112 §7.1).
    kBadChunkSize,         // 400 not 1*HEXDIG
    kChunkSizeOverflow,    // 400 more than 2^63-1
    kBadChunkExtension,    // 400 not *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
    kChunkLineTooLong,     // 400 size line longer than kMaxChunkLineBytes
    kMissingChunkCrlf,     // 400 chunk data not followed by CRLF
    kTrailersTooLarge,     // 431 trailer section longer than HttpLimits::max_trailer_bytes
    kTruncatedBody,        // 400 connection closed before the body ended
    kCount
};

// Bounds on what one message may use. Every one is checked while parsing, so a peer cannot make
// the parser hold or scan more than this.
struct HttpLimits {
    // The whole head: start line, field lines, every CRLF (and empty lines before a request line).
    size_t max_header_bytes = 32 * 1024;
    size_t max_header_count = 100;
    // The request-target alone.
    size_t max_uri_bytes = 8 * 1024;
    // Body bytes after removing the chunked framing; 0 = unlimited.
    uint64_t max_body_bytes = 0;
    // Trailer field lines after the last chunk, their CRLFs included; 0 = no trailer field.
    size_t max_trailer_bytes = 8 * 1024;
};

// Longest method token accepted. RFC 9110 sets no limit; the longest registered method
// ("UPDATEREDIRECTREF") has 17 characters, and a bound lets a request line that can never be
// valid fail on its first bytes (a TLS ClientHello sent to a plain-text port, say).
constexpr size_t kMaxMethodLength = 32;

// Longest chunk size line (size, extensions, CRLF). Nobody sends long extensions; the bound keeps
// a peer from streaming an endless size line.
constexpr size_t kMaxChunkLineBytes = 4096;

// Largest Content-Length or chunk size: what fits a signed 64-bit offset.
constexpr uint64_t kMaxBodyLength = INT64_MAX;

// The status a request that failed with `error` gets (400, 413, 414, 431, 501, 505); 0 for kNone.
int http_status(HttpError error);
// A short text for logs, e.g. "content-length and transfer-encoding together".
const char* to_string(HttpError error);
const char* to_string(HttpMethod method);
const char* to_string(BodyFraming framing);

}  // namespace lbd::http1
