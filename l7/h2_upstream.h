// HTTP/2 to servers (a pool with `protocol: SERVER_PROTOCOL_H2C`, or
// SERVER_PROTOCOL_H2 over its tls): each worker keeps a few HTTP/2 client
// sessions (libnghttp2) per server and multiplexes its exchanges over them
// as streams.
//
// Over TLS a session's connection is a bufferevent_openssl, as an HTTP/1.1
// pool's (transport.h), offering ALPN "h2" only: it is up when the
// handshake ended with "h2" selected. A server that selects nothing else
// (or nothing) fails the connect, with a warning, as a refused connect
// would: no fallback to HTTP/1.1 on a connection the pool meant for
// HTTP/2. A session serves only exchanges of the TLS context it was made
// with (a reload makes new ones).
//
// The ExchangeDriver does not know: the UpstreamConn an exchange gets holds
// one end of a bufferevent pair (with deferred callbacks) as its `bev`, and
// the other end belongs to an H2UpstreamStream, which translates. The
// driver writes an HTTP/1.1 request into its end as it would to a socket
// (head, then the body in its framing); the stream parses it and sends
// HEADERS and DATA (connection-specific fields dropped, TE only
// "trailers"). The server's HEADERS and DATA come back as an HTTP/1.1
// response: chunked unless the server gave a content-length, so the
// driver's own decoder, timers, filters and client-side framing all apply
// unchanged. Trailers go around the bytes, through the Exchange:
// request_trailers (from an HTTP/2 client) are sent as a trailing HEADERS
// frame, and the server's trailers land in response_trailers (an HTTP/2
// client sends them as trailing HEADERS) and in the chunked trailer section
// when the client asked for them with "TE: trailers".
//
// Back-pressure both ways: the pair's ends have read watermarks, nghttp2
// sends no window update by itself (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE), and
// a response stream's DATA are consumed (its window reopened) only once the
// driver took them out of the pair, i.e. as the client drains. Request body
// bytes are decoded from the pair only while the stream's send buffer is
// short, and that buffer empties only as nghttp2 sends, within the
// server's windows.
//
// Failures map onto the driver's HTTP/1 rules: a session that cannot
// connect fails its waiting exchanges as a connect failure (next server,
// or 503); a stream refused (REFUSED_STREAM, or past a GOAWAY's
// last_stream_id) before any response byte looks like a reused keep-alive
// connection closed under the request (UpstreamConn::reused): retried
// once, on another session, if the request is replayable; any other reset
// or a lost connection is a server close (502, or a cut response).
//
// A session takes new streams up to the server's
// SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS come); when all
// are full another one is opened. After a GOAWAY it takes none and closes
// once its streams end. An idle session closes after server_idle_ms, and
// at once when its server is drained (drain()), which lets busy ones finish.
//
// Worker thread only.
#pragma once

#include <nghttp2/nghttp2.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/balance/server.h"
#include "core/loop/event.h"
#include "l7/upstream.h"

namespace lbd::l7 {

// Over all workers, for /metrics: HTTP/2 connections made to servers, and
// the streams (requests) sent over them.
struct H2UpstreamStats {
    static std::atomic<uint64_t> connections;
    static std::atomic<uint64_t> streams;
};

struct Exchange;
class H2UpstreamSession;
class H2UpstreamStream;

// Every worker's HTTP/2 sessions to servers.
class H2Upstreams {
public:
    explicit H2Upstreams(event_base* base);
    ~H2Upstreams();
    H2Upstreams(const H2Upstreams&) = delete;
    H2Upstreams& operator=(const H2Upstreams&) = delete;

    struct Opened {
        std::unique_ptr<UpstreamConn> conn;  // null: could not start (errno in `error`)
        bool ready = false;  // on a connected session: send at once; else wait for BEV_EVENT_CONNECTED
        int error = 0;
    };
    // A stream for `ex` to its server: on a session with room, or a new one.
    // `tls` null: h2c; else over TLS, the certificate checked against
    // `check_name` (make_server_stream).
    Opened open(Exchange& ex, uint32_t idle_ms, const std::shared_ptr<const TlsClientContext>& tls,
                const std::string& check_name);

    // `lbctl server drain` (or maint): the sessions to `server` take no new
    // stream; each closes once its streams end, an idle one at once (with a
    // GOAWAY). How many closed at once.
    size_t drain(const Server* server);

    // Status: sessions open and streams carried, over all servers.
    size_t session_count() const;
    size_t stream_count() const;

    // For H2UpstreamSession.
    event_base* base() const { return base_; }
    void retire(H2UpstreamSession* session);

private:
    static void on_reap(evutil_socket_t fd, short what, void* arg);

    event_base* base_;
    std::map<const Server*, std::list<std::unique_ptr<H2UpstreamSession>>> sessions_;
    std::vector<std::unique_ptr<H2UpstreamSession>> retired_;
    EventPtr reaper_;
};

}  // namespace lbd::l7
