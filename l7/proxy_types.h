// Plain types of the HTTP proxy: how a request ended, per-listener counters.
// Cheap to include anywhere (the *-t.h habit); behaviour lives elsewhere.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "core/base/histogram.h"
#include "l7/compression/compression_stats.h"

namespace lbd::l7 {

// How a request (or the connection around it) ended: the `term=` field of
// its access-log line and a label of lbd_http_requests_ended_total.
enum class Termination : uint8_t {
    kOk,             // response relayed whole
    kLocal,          // answered by a route (redirect, fixed response)
    kNoRoute,        // no route and no default pool: 404
    kRateLimited,    // over a rate-limit zone: 429 (or the zone's status)
    kBadRequest,     // the parser refused the request (4xx/5xx from HttpError)
    kHeaderTimeout,  // request head not complete within client_header_ms: 408
    kClientAbort,    // the client closed or broke the connection mid-request
    kNoServer,       // no server of the pool was usable: 503
    kConnectFailed,  // every connect attempt failed: 503
    kServerTimeout,  // no response head within server_response_ms: 504
    kBadResponse,    // malformed response head: 502
    kServerAbort,    // the server closed or broke the connection mid-exchange
    kBodyTimeout,    // no body byte moved for body_idle_ms
    kTunnel,         // an upgraded connection (101) ended
    kDrain,          // still open when the shutdown deadline passed
    kLocalError,     // lbd out of descriptors, memory or local ports for the connect: 503
    kAccessDenied,   // refused by an access rule: 403 (Exchange::reason names the list)
    kAuthFailed,     // basic auth: no or wrong credentials (401), or too many failures (429)
    kCount
};

const char* to_string(Termination t);

// Why an HTTP/2 connection hit one of its limits (l7/h2_connection.h): a
// label of lbd_http2_limits_total. The first four and kSmallWindowUpdate
// are glitches too.
enum class H2Limit : uint8_t {
    kConcurrentStreams,  // a stream over max_concurrent_streams: REFUSED_STREAM
    kHeaderList,         // a header list over max_header_list_bytes: 431
    kProtocolError,      // an invalid frame or header (a stream or connection error)
    kEmptyData,          // a DATA frame with no data and no END_STREAM
    kResetRate,          // streams reset faster than max_resets_per_second: GOAWAY
    kGlitches,           // the glitch budget spent: GOAWAY
    kFlood,              // nghttp2's flood checks (SETTINGS, PING, ... not read back): GOAWAY
    kIdleTimeout,        // no stream for idle_timeout_ms: GOAWAY
    kServerResets,       // streams lbd reset for the client's faults faster than max_resets_per_second
                         // (MadeYouReset, CVE-2025-8671): GOAWAY
    kContinuations,      // a head in more CONTINUATION frames than max_continuations: GOAWAY
    kPingFlood,          // PING frames faster than max_control_frames_per_second: GOAWAY
    kSettingsFlood,      // SETTINGS frames faster than max_control_frames_per_second: GOAWAY
    kSmallWindowUpdate,  // a WINDOW_UPDATE under min_window_update_bytes (a window dribbled open)
    kHeaderTimeout,      // a header block unfinished for timeouts.client_header_ms: GOAWAY
    kCount
};

const char* to_string(H2Limit limit);

// Counters of one HTTP listener, shared by its sockets on every worker.
struct HttpListenerStats {
    std::atomic<uint64_t> accepted{0};
    // Open client connections; also the gate for max_connections.
    std::atomic<uint32_t> active{0};
    // Of those, idle ones parked without a session (l7/parked_client.h).
    std::atomic<uint32_t> parked{0};
    std::atomic<uint64_t> requests{0};
    // Responses by class: [0] = 1xx (101 only) ... [4] = 5xx.
    std::array<std::atomic<uint64_t>, 5> responses{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(Termination::kCount)> ended{};
    // From a request's head complete to its response's last byte written.
    LatencyHistogram request_duration;
    // TLS listeners: handshakes completed, and failed (a bad or refused
    // ClientHello, plain HTTP on the TLS port, a close mid-handshake) or
    // timed out (handshake_timeout_ms). Counted, not logged at info: a
    // scanner would otherwise fill the log.
    std::atomic<uint64_t> tls_handshakes{0};
    std::atomic<uint64_t> tls_handshake_failures{0};
    std::atomic<uint64_t> tls_handshake_timeouts{0};
    // HTTP/2 connections (ALPN h2 or h2c) and their streams, since start;
    // the limits they hit, by cause.
    std::atomic<uint64_t> h2_connections{0};
    std::atomic<uint64_t> h2_streams{0};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(H2Limit::kCount)> h2_limits{};
    // Response bytes HTTP/2 streams took from their servers and have not
    // yet framed for their clients (l7/h2_response_budget.h), now.
    std::atomic<int64_t> h2_response_buffered_bytes{0};
    // Responses whose HTTP/2 server sent trailers an HTTP/1 client did not
    // get (it sent no "TE: trailers", spoke HTTP/1.0, or a body stage
    // re-framed the body).
    std::atomic<uint64_t> trailers_dropped{0};
    // Response compression (l7/compress_filter.h).
    compression::CompressionStats compression;
    // accept_proxy listeners: connections closed before their session
    // (l7/proxy_header_wait.h): from a source not trusted, with a malformed
    // or cut-off PROXY header, or none within header_timeout_ms.
    std::atomic<uint64_t> proxy_untrusted{0};
    std::atomic<uint64_t> proxy_header_invalid{0};
    std::atomic<uint64_t> proxy_header_timeout{0};
};

}  // namespace lbd::l7
