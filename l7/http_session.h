// One client connection of the HTTP proxy, and the requests it carries, one
// at a time (pipelined requests wait in the input buffer, so responses go
// out in order). Each request and its response is an Exchange (exchange.h),
// made when its head is read and dropped when its response ends; this object
// keeps only what outlives a request (stream, listener, endpoint, keep-alive
// and parking, timers).
//
// Each request goes through the phases below, each one function with one
// input and one output (STYLE.md #6). What acts on a request or response
// head is a filter (filter.h: rate limits, the router, header rewriting,
// cookie stickiness), run in order at phases 2 and 5; later features
// (access control, auth, caching, compression) are more filters there.
//
//   1 read_request_head   client bytes         -> exchange_ (request: an owned copy)
//   2 route_request       request              -> route matched; request filters: pool, or a local
//                                                 answer (429, redirect, fixed, 404), or a pause
//                                                 (PAUSED until the filter's resumer is called)
//   3 choose_server       pool + client        -> server (the pool's ServerPicker)
//     connect_server      server               -> upstream (idle reused, or a new connect)
//   4 send_request        request              -> head written, body streamed
//   5 read_response_head  server bytes         -> response (1xx relayed; 101 -> tunnel); response filters
//   6 pump_response_body  server bytes         -> client (as is, or de-chunked for HTTP/1.0, or
//                                                 through body stages and framed anew)
//   7 finish_request      termination          -> access log, exchange_ dropped; next request, or close
//
// Connection life cycle (a TLS listener's connection first shakes hands:
// accept -> handshake -> HEAD, a failure or handshake_timeout_ms closes it,
// counted in lbd_http_tls_handshake_failures_total, not logged per request):
//
//   accept -> HEAD ---request head---> CONNECTING --connected/reused--> EXCHANGE
//              ^  \--bad head/timeout-> 4xx, CLOSING   |  connect failed: another server
//              |                                       |  (retries exhausted: 503)
//              |                                       v
//            IDLE <--response done, keep-alive------ EXCHANGE --101--> TUNNEL --> closed
//              |  \                                    | server broke before the response: 502
//              |   +--50 ms, nothing buffered: PARKED  | (a reused conn: retried once if replayable)
//              |      (session freed; next request:    |
//              |       a new session in IDLE)          |
//              +--keep-alive timeout: closed           |
//                                                      +--response done, close--> CLOSING -> closed
//
// Bodies stream both ways through bounded buffers: data moves from one
// side's input to the other side's output only while that output is below
// kHighWater; the reader stops at its read watermark (libevent suspends the
// socket read), and the writer's low watermark callback resumes the flow.
// Memory per connection is bounded whatever the body size.
//
// Worker thread only. Callbacks are deferred (transport.h) and the worker
// frees an ended session only from its loop, so `this` stays valid until
// the current callback returns; `closed_` tells code after a call whether
// the session ended meanwhile.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/net/address.h"
#include "core/loop/event.h"
#include "core/balance/pool.h"
#include "l7/exchange.h"
#include "l7/filter.h"
#include "l7/http_message.h"
#include "l7/parked_client.h"
#include "l7/proxy_types.h"
#include "l7/transport.h"
#include "l7/upstream.h"

namespace lbd::l7 {

class L7Worker;
class HttpListener;

class HttpSession final : private ResumeTarget {
public:
    HttpSession(L7Worker& worker, std::shared_ptr<HttpListener> listener, UniqueFd fd, const SocketAddress& peer);
    // The session of a parked connection whose next request (or EOF) came.
    HttpSession(L7Worker& worker, ParkedClient client);
    ~HttpSession();
    HttpSession(const HttpSession&) = delete;
    HttpSession& operator=(const HttpSession&) = delete;

    void start();
    // A resumed session: read what woke the parked connection.
    void read_waiting();
    // Shutdown deadline: end now.
    void abort() { close(Termination::kDrain); }
    // Drain began: an idle connection closes now, a busy one after its response.
    void drain();
    // A planned handover: as drain(), but an idle connection (or one whose
    // response went out as keep-alive before) is given `grace_ms` to send
    // its next request, which is answered with Connection: close; closing it
    // at once would race a request the client may be sending right then.
    void drain_softly(uint32_t grace_ms);

    // Set by L7Worker; used to erase the session in O(1).
    std::list<std::unique_ptr<HttpSession>>::iterator self;

private:
    enum class Phase : uint8_t { kIdle, kHead, kPaused, kConnecting, kExchange, kTunnel, kClosing, kClosed };
    enum class Timer : uint8_t { kNone, kHandshake, kPark, kKeepAlive, kHeader, kConnect, kResponse, kBodyIdle, kTunnelIdle, kFlush };

    // Phases (http_session.cc: 1-3; http_exchange.cc: 4-7).
    void read_request_head();
    void route_request();
    void run_request_filters();
    // A paused request filter's decision (filter_result.h); from the loop.
    void resume_request(FilterResult result) override;
    void choose_server();
    void connect_server();
    void send_request();
    void read_response_head();
    void pump_response_body();
    // Runs the exchange's body stages (body_filter.h) on what the pump gave
    // them, and frames their output for the client.
    bool run_body_stages(bool end);
    void finish_request(Termination term);
    void end_request(Termination term);  // stats and log, then the exchange goes

    // Streaming (http_exchange.cc).
    void pump_request_body();
    void start_response();
    void response_complete();
    void start_tunnel();
    void pump_tunnel();
    void server_closed(bool error);

    // TLS listeners (http_session_tls.cc): the handshake before phase 1.
    void client_handshake_event(short what);
    void handshake_timed_out();

    // Answers and endings (http_session.cc).
    void respond_local(int status, const std::string& content_type, const std::string& body, const HeaderList& extra,
                       Termination term, bool close);
    void respond(const LocalAnswer& answer);
    // Ends the exchange with an answer of lbd's: `write(close)` puts it on
    // the client's output and returns its size.
    template <typename Write>
    void send_answer(int status, Termination term, bool close, Write&& write);
    void respond_error(int status, Termination term);
    void connect_failed(const char* why);
    // A server-side failure ends the exchange: its status, its termination.
    void server_failed(const ProxyError& error) { respond_error(error.status(), error.termination()); }
    // The connect failed for lack of lbd's own resources: 503, the server not blamed.
    void local_connect_failure(int err);
    void flush_and_close();
    void close(Termination term);
    // Ends the session object (closed or parked): timers off, freed from the loop.
    void retire();
    void log_request(const Exchange& ex, Termination term);

    void arm(Timer kind, uint32_t ms);
    void progress() { last_progress_ms_ = monotonic_ms(); }
    // Starts the exchange whose head was read (or refused, or timed out).
    Exchange& begin_exchange();
    // Whether a request body is still coming from the client.
    bool request_body_pending() const { return exchange_ && !exchange_->request_body_done; }
    // Whether the current response's head went to the client.
    bool response_started() const { return exchange_ && exchange_->response_started; }

    // Sends what a callback queued on the plain streams when it returns
    // (socket_io.h): one writev per side, no write event unless needed.
    struct FlushOnReturn {
        HttpSession& session;
        ~FlushOnReturn() { session.flush_streams(); }
    };
    void flush_streams();
    // Between requests: the keep-alive timeout, or first the park timer.
    void wait_idle();
    bool can_park() const;
    // Idle a while with nothing buffered: hand the socket to the worker's
    // parked clients and end this session (parked_client.h).
    void park_idle();

    static void on_client_read(bufferevent* bev, void* arg);
    static void on_client_write(bufferevent* bev, void* arg);
    static void on_client_event(bufferevent* bev, short what, void* arg);
    static void on_server_read(bufferevent* bev, void* arg);
    static void on_server_write(bufferevent* bev, void* arg);
    static void on_server_event(bufferevent* bev, short what, void* arg);
    static void on_timer(evutil_socket_t fd, short what, void* arg);
    static void on_resume(evutil_socket_t fd, short what, void* arg);

    L7Worker& worker_;
    // Keeps the listener, and through it the configuration (Runtime) the
    // connection started on, alive until the connection ends.
    std::shared_ptr<HttpListener> listener_;
    const HttpConfig& http_;
    ClientStream client_;
    bool handshake_done_ = false;  // TLS: the first request may be read
    ClientEndpoint endpoint_;
    HttpLimits request_limits_;
    Phase phase_ = Phase::kHead;
    bool closed_ = false;
    bool client_eof_ = false;
    bool close_after_ = false;  // close the client connection after this response
    bool draining_ = false;
    uint32_t soft_drain_grace_ms_ = 0;  // drain_softly(): the idle grace; 0 otherwise
    EventPtr timer_;
    EventPtr resume_;  // runs the next pipelined request from the loop
    Timer timer_kind_ = Timer::kNone;
    uint32_t timer_ms_ = 0;
    uint64_t last_progress_ms_ = 0;
    bool resumed_ = false;  // made for a parked connection

    // The request head being read, before it makes an Exchange.
    HeadScanState req_scan_;  // the head itself is parsed into the worker's request_head()
    bool head_started_ = false;  // a byte of the next request came
    uint64_t head_start_ms_ = 0;  // when its head phase began (arm(Timer::kHeader))
    // The request in flight and its response (exchange.h); held inline: no
    // allocation per request.
    std::optional<Exchange> exchange_;
};

}  // namespace lbd::l7
