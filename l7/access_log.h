// The access-log line of one request: `http key=value ...` (like the l4
// line) or `http {json}` (log_format: HTTP_LOG_FORMAT_JSON).
#pragma once

#include <cstdint>
#include <string>

namespace lbd::l7 {

struct AccessRecord {
    std::string listener;
    std::string client;  // ip:port
    std::string host;    // as the client sent it
    std::string method;
    std::string path;    // before '?', after routing rewrites
    int status = 0;      // 0 = no response
    uint64_t bytes_in = 0;   // from the client: head and body
    uint64_t bytes_out = 0;  // to the client: head and body
    std::string server;      // "pool/server" or "-"
    std::string route;       // route name or "-"
    int64_t time_ms = 0;     // head phase start to the end
    int64_t connect_ms = -1;  // -1 = no connect (0: a reused connection, or a new one under 1 ms)
    // The server connection: "new" (connected for this request), "reused"
    // (an idle keep-alive one), "-" (none). connect_ms alone cannot tell a
    // reused connection from a fast new loopback connect.
    const char* conn = "-";
    int64_t header_ms = -1;   // request sent to response head; -1 = none
    std::string term;
    // "h2" for an HTTP/2 stream; empty (not written) for HTTP/1.
    std::string protocol;
    std::string reason;  // why lbd answered itself ("acl:office"); empty = not written
    // TLS listeners only (empty on plain HTTP, and then not written).
    std::string tls_version;  // "TLSv1.3"
    std::string sni;          // the name the client sent; empty = none
    // The request id (http.request_id, or made for a $request_id); empty = none, not written.
    std::string request_id;
    // The response cache's verdict (nginx's $upstream_cache_status: HIT,
    // MISS, EXPIRED, REVALIDATED, BYPASS; l7/cache_state.h); empty on a
    // route that does not cache, and then not written.
    std::string cache;
};

// Fields holding client-supplied text are escaped: no space, quote or
// control character can forge another field (or another line).
std::string format_access_text(const AccessRecord& r);
std::string format_access_json(const AccessRecord& r);

}  // namespace lbd::l7
