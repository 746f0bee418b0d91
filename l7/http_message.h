// Owned copies of request and response heads, and the header work the proxy
// does on them: hop-by-hop removal, forwarding headers, configured header
// actions, serialization, and the responses lbd writes itself.
//
// The parser's HttpHead holds views into the input buffer; the proxy drains
// that buffer as soon as a head is parsed, so it copies what it needs here.
// Pure functions, no libevent: unit-testable, and each proxy phase calls
// them with one clear input and output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/net/address.h"
#include "core/config/config_http.h"
#include "l7/http1.h"

namespace lbd::l7 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;
struct VariableSource;  // variables.h

// iequals() comes from core/http1/chars.h (through l7/http1.h).
// The first value of `name`, or nullptr.
const std::string* find_header(const HeaderList& headers, std::string_view name);
void remove_header(HeaderList& headers, std::string_view name);
void set_header(HeaderList& headers, std::string_view name, std::string_view value);
// remove, then set, then add (config_http.h). Values with variables are
// expanded from `vars` (variables.h); without it they go as written.
void apply_header_actions(HeaderList& headers, const HttpHeaderActions& actions, const VariableSource* vars = nullptr);

struct RequestInfo {
    std::string method;
    HttpMethod method_kind = HttpMethod::kOther;
    HttpVersion version = HttpVersion::k11;
    TargetForm target_form = TargetForm::kOrigin;
    std::string path;   // before '?'; "/" for an empty absolute-form path; "*" for asterisk-form
    std::string query;  // from '?' on, or empty
    std::string host;   // lower case, port removed: what routes match
    std::string host_header;  // Host (or the absolute-form authority) as sent
    HeaderList headers;       // end-to-end fields only, in order
    std::string transfer_encoding;  // the codings, when the body is chunked
    BodyFraming framing = BodyFraming::kNone;
    uint64_t content_length = 0;
    bool keep_alive = true;
    bool upgrade = false;  // Connection: upgrade + Upgrade (HTTP/1.1)
    std::string upgrade_protocols;
    bool expect_continue = false;
    bool te_trailers = false;  // TE lists "trailers": the client takes response trailers

    // Safe to send again after a failure (RFC 9110 §9.2.2) and carries no
    // body that would have to be replayed.
    bool replayable() const;
};

struct ResponseInfo {
    int status = 0;
    std::string reason;
    HttpVersion version = HttpVersion::k11;
    HeaderList headers;
    std::string transfer_encoding;
    BodyFraming framing = BodyFraming::kNone;
    bool keep_alive = false;
    bool tunnel = false;
    std::string upgrade_protocol;
    bool interim() const { return status >= 100 && status < 200 && status != 101; }
};

RequestInfo copy_request(const HttpRequestHead& head);
// What routes match of an authority: lower case, port removed
// ("Example.com:8080" -> "example.com"; "example.com." -> "example.com";
// "[::1]:80" -> "[::1]").
std::string host_without_port(std::string_view authority);
ResponseInfo copy_response(const HttpResponseHead& head);

// Where the client connection came from and went to, for forwarding headers.
struct ClientEndpoint {
    SocketAddress peer;   // the TCP peer
    uint16_t local_port = 0;
    std::string scheme = "http";  // "https" once the transport is TLS
};

// Whether `peer` is one of `forwarded.trusted_proxies` (whose forwarding
// headers and request ids are believed).
bool trusted_proxy(const HttpForwardedConfig& forwarded, const SocketAddress& peer);

// The client behind trusted proxies (`forwarded.trusted_proxies`): the
// peer, or X-Forwarded-For read from the right with trusted hops skipped
// (nginx realip_recursive). An element that is no address ends the walk
// (someone untrusted wrote it), as does the left end of the list. Used by
// the CLIENT_IP rate-limit key, the access rules, basic auth's failure
// limit and a split by client address.
SocketAddress client_address(const HttpForwardedConfig& forwarded, const RequestInfo& request,
                             const SocketAddress& peer);

// X-Forwarded-*, X-Real-IP, Forwarded and Via, as `config` asks (see the
// ForwardedHeaders message of config.proto for the trust rules).
void add_forwarding_headers(RequestInfo& request, const HttpForwardedConfig& config, const ClientEndpoint& client);

// "GET /path?q HTTP/1.1\r\nHost: ...\r\n...\r\n" for the server: HTTP/1.1,
// keep-alive, the body framing kept (Content-Length, or the request's
// Transfer-Encoding when chunked), Upgrade re-added when requested.
std::string serialize_request(const RequestInfo& request);
// The same into `out` (its old contents replaced): a buffer kept from request to request makes
// no allocation per head.
void serialize_request(const RequestInfo& request, std::string& out);
// That buffer: the calling thread's, for a head written into a bufferevent at once (never held
// across a call that may serialize another).
std::string& head_scratch();

// How the response body reaches the client.
enum class ClientFraming : uint8_t {
    kNone,         // no body
    kAsIs,         // Content-Length or chunked bytes relayed as they are
    kDechunk,      // chunked from the server, raw to an HTTP/1.0 client (then close)
    kUntilClose,   // until the server closes, then the client connection closes too
    kChunkEncode,  // body stages' output (body_filter.h), chunked anew for an HTTP/1.1 client
};

ClientFraming client_framing(const ResponseInfo& response, HttpVersion client_version);
// The framing of a body that goes through body stages: the stages' output
// is de-framed bytes, sent as they are under the head's Content-Length if a
// stage kept it, else chunked (HTTP/1.1) or until close (HTTP/1.0).
ClientFraming staged_framing(const ResponseInfo& response, HttpVersion client_version);

// The response head for the client. `close` adds Connection: close; an
// HTTP/1.0 client that may keep the connection gets Connection: keep-alive.
std::string serialize_response(const ResponseInfo& response, ClientFraming framing, HttpVersion client_version,
                               bool close);
void serialize_response(const ResponseInfo& response, ClientFraming framing, HttpVersion client_version, bool close,
                        std::string& out);

// A whole response lbd writes itself (error, redirect, fixed): head and body.
// `extra` are fields such as Location; `actions` the listener's response
// header actions (security headers apply to these responses too).
std::string local_response(int status, std::string_view content_type, std::string_view body, const HeaderList& extra,
                           const HttpHeaderActions& actions, bool head_only, bool close, HttpVersion client_version,
                           const VariableSource* vars = nullptr);

// `headers` as HTTP/1 field lines, "Name: value\r\n" each (CacheObject::head_lines).
std::string field_lines(const HeaderList& headers);

// The head of a stored response (a cache hit) for the client: `lines`
// (field_lines of the stored fields; null: none) and `headers` as they
// are, Content-Length `body_size` (none on a 204 or 304). One allocation.
std::string stored_response_head(int status, const std::string* lines, const HeaderList& headers, size_t body_size,
                                 bool close, HttpVersion client_version);

// "Not Found" for 404, "" for a status it does not know.
const char* reason_phrase(int status);

// The body of an error response: the configured page, or "404 Not Found\n".
std::pair<std::string, std::string> error_body(const HttpConfig& config, int status);  // (content_type, body)

}  // namespace lbd::l7
