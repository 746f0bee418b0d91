// The server-facing half of one Exchange: phases 2-7 of a request (the
// README's list), from the request filters to the end of the response body
// or of a tunnel. It talks to its client only through ClientSide
// (client_side.h), so the same driver serves an HTTP/1 connection's current
// request and each stream of an HTTP/2 connection: same routing, filters,
// balancing, stickiness, rate limits, forwarding headers, retries.
//
//   2 route_request       request              -> route matched; request filters: pool, or a local
//                                                 answer (429, redirect, fixed, 404), or a pause
//                                                 (kPaused until the filter's resumer is called)
//   3 choose_server       pool + client        -> server (the pool's ServerPicker)
//     connect_server      server               -> upstream (idle reused, or a new connect)
//   4 send_request        request              -> head written, body streamed
//   5 read_response_head  server bytes         -> response (1xx relayed; 101 -> tunnel); response filters
//   6 pump_response_body  server bytes         -> client (as the client side framed it, or
//                                                 through body stages, framed anew by the client side;
//                                                 a long plain HTTP/1 body by splice, body_splice.cc)
//   7 response_complete   -                    -> server connection kept or closed; ClientSide::response_done
//
// A static_files route (static_files.h) takes no server: after the request
// filters, serve_static opens the file and makes the head, the response
// filters run on it as on a server's, and pump_file sends the body in
// pieces as the client drains (sendfile on a plain HTTP/1 socket).
//
// The driver owns the exchange's server-side timer (connect, response,
// body idle, tunnel idle). One driver serves one exchange at a time
// (start() ... stop()); it can be reused for the next.
//
// Worker thread only. Its server callbacks run with `this` valid: the owner
// frees a driver only from the loop (HttpSession, H2 streams).
#pragma once

#include <cstdint>
#include <memory>

#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/loop/event.h"
#include "l7/client_side.h"
#include "l7/exchange.h"
#include "l7/filter.h"
#include "l7/phase_timer.h"

namespace lbd::l7 {

// Bytes move into an output buffer (the client's, the server's, a
// tunnel's) only while it holds less than this; the rest wait in the
// socket they came from.
constexpr size_t kBodyHighWater = 256 * 1024;
// The client's, for a response that goes through body stages (compression):
// the stages take more only once the client has nearly drained what they
// gave it, so a slow client holds one batch of output beside the encoder's
// own state (~256 KiB for gzip) instead of several; while it lags, its
// server is read in small pieces (http_exchange.cc). A fast client drains
// each batch before the server's next bytes come, so its batches and
// throughput do not change.
constexpr size_t kStagedBodyHighWater = 16 * 1024;

class L7Worker;
class HttpListener;

class ExchangeDriver final : private ResumeTarget {
public:
    ExchangeDriver(L7Worker& worker, HttpListener& listener, ClientSide& client);
    ExchangeDriver(const ExchangeDriver&) = delete;
    ExchangeDriver& operator=(const ExchangeDriver&) = delete;

    // Phase 2 onwards for `ex`, whose request head was read and checked.
    void start(Exchange& ex);
    // The exchange ended (its owner drops it): timer off, nothing held.
    void stop();
    bool active() const { return ex_ != nullptr; }
    bool connecting() const { return state_ == State::kConnecting; }
    bool tunneling() const { return state_ == State::kTunnel; }

    // Client events, forwarded by the codec.
    void client_readable();
    void client_writable();
    // The client closed its side (request_input_ended() is now true).
    void client_eof();

    // Sends what was queued towards the server.
    void flush_upstream();

private:
    enum class State : uint8_t { kIdle, kRouting, kPaused, kConnecting, kExchange, kTunnel, kFile };
    enum class Timer : uint8_t { kNone, kConnect, kResponse, kBodyIdle, kTunnelIdle };

    void route_request();
    void run_request_filters();
    // A paused request filter's decision (filter_result.h); from the loop.
    void resume_request(FilterResult result) override;
    // `failed`: the server whose connect just failed, tried again when no
    // other is left (connect_failed).
    void choose_server(std::shared_ptr<Server> failed = nullptr);
    void connect_server();
    // The same for a pool whose servers speak HTTP/2 (http_exchange.cc).
    void connect_h2(const std::shared_ptr<const TlsClientContext>& tls);
    // The name a server's certificate is checked against (empty: the pool's server_name, or plain).
    std::string tls_check_name(const TlsClientContext* tls) const;
    void send_request();
    void pump_request_body();
    void read_response_head();
    void start_response();
    void pump_response_body();
    // A long body from the server's socket to the client's by splice(2)
    // (body_splice.cc): whether this one may go so; start (false: no pipe
    // could be made, the body is copied); move what the sockets allow; let go
    // of the pipe and events (also when the exchange stops half-way).
    bool can_splice() const;
    bool start_splice();
    void pump_splice();
    void end_splice();
    static void on_splice_event(evutil_socket_t fd, short what, void* arg);
    // The client side takes no more (ResponseRoom kFull or kHold): the
    // server is not read (its bytes wait in the kernel) until it has room.
    void hold_server_reads(bool hold);
    // The server's read watermark (how much one read takes).
    void set_server_read(ServerRead size);
    // Runs the exchange's body stages (body_filter.h) on what the pump gave
    // them, and hands their output to the client side.
    bool run_body_stages(BodyProgress progress);
    void response_complete();
    void server_closed(bool error);
    void start_tunnel();
    void pump_tunnel();
    // A buffer for each body stage the response filters added; false: none
    // could be made (lbd's own shortage).
    bool make_body_stages();
    // Static files (static_exchange.cc).
    void serve_static();
    void pump_file();

    void connect_failed(const char* why);
    void local_connect_failure(int err);
    // A server-side failure ends the exchange: its status, its termination;
    // or, before any response head, a response filter's answer instead
    // (FilterChain::on_server_failure: the cache's stale-if-error).
    void server_failed(const ProxyError& error);
    // A filter's answer: lbd's own (respond_local) or a stored one (respond_stored).
    void respond(const LocalAnswer& answer);
    bool request_body_pending() const { return ex_ != nullptr && !ex_->request_body_done; }

    // What the expiry of timer_'s current phase means (on_timer).
    void timed_out();
    // The response waits for its client's connection (at its high water, or
    // held by the connection's budget) while that connection is still
    // sending its other streams' bytes: not the server going idle.
    bool waits_for_busy_client();

    // Sends what a server callback queued, both ways, when it returns.
    struct FlushOnReturn {
        ExchangeDriver& driver;
        ~FlushOnReturn();
    };
    static void on_server_read(bufferevent* bev, void* arg);
    static void on_server_write(bufferevent* bev, void* arg);
    static void on_server_event(bufferevent* bev, short what, void* arg);
    static void on_timer(evutil_socket_t fd, short what, void* arg);

    L7Worker& worker_;
    HttpListener& listener_;
    const HttpConfig& http_;
    ClientSide& client_;
    Exchange* ex_ = nullptr;
    State state_ = State::kIdle;
    bool server_reads_held_ = false;
    ServerRead server_read_ = ServerRead::kFull;  // the server's read watermark (set_server_read)
    PhaseTimer<Timer> timer_;
    uint64_t response_length_ = 0;  // the response's Content-Length (0: none)
    // Splicing (body_splice.cc): the body bytes not yet taken from the server,
    // those in the pipe not yet given to the client, the pipe, and the
    // one-shot events on the server's readability and the client's writability.
    bool splicing_ = false;
    uint64_t splice_left_ = 0;
    size_t pipe_bytes_ = 0;
    UniqueFd pipe_read_, pipe_write_;
    EventPtr splice_server_ev_, splice_client_ev_;
};

}  // namespace lbd::l7
