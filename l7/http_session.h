// One client connection of the HTTP proxy, and the requests it carries, one
// at a time (pipelined requests wait in the input buffer, so responses go
// out in order). Each request and its response is an Exchange (exchange.h),
// made when its head is read and dropped when its response ends; this object
// keeps only what outlives a request (stream, listener, endpoint, keep-alive
// and parking, timers).
//
// This is the HTTP/1 client codec: it turns the client's bytes into
// request heads (phase 1) and the exchange's response events into bytes
// (ClientSide, client_side.h), and knows nothing of routing or servers.
// Phases 2-6 (route, filters, server, the exchange with it, tunnels) are
// the ExchangeDriver's (exchange_driver.h), which it starts per request:
//
//   1 read_request_head   client bytes         -> exchange_ (request: an owned copy)
//   2-6 driver_.start()   exchange_            -> response head, body, or a local answer (ClientSide)
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
// kBodyHighWater; the reader stops at its read watermark (libevent suspends the
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
#include "l7/client_side.h"
#include "l7/exchange.h"
#include "l7/exchange_driver.h"
#include "l7/exchange_slot.h"
#include "l7/filter.h"
#include "l7/h2_connection.h"
#include "l7/http_message.h"
#include "l7/parked_client.h"
#include "l7/phase_timer.h"
#include "l7/proxy_types.h"
#include "l7/thread_spares.h"
#include "l7/transport.h"
#include "l7/upstream.h"

namespace lbd::l7 {

class L7Worker;
class HttpListener;

class HttpSession final : public ClientSide, public H2Owner {
public:
    HttpSession(L7Worker& worker, std::shared_ptr<HttpListener> listener, UniqueFd fd, const SocketAddress& peer);
    // The session of a parked connection whose next request (or EOF) came.
    HttpSession(L7Worker& worker, ParkedClient client);
    ~HttpSession() override;
    HttpSession(const HttpSession&) = delete;
    HttpSession& operator=(const HttpSession&) = delete;
    // A freed session's memory is the next one's (thread_spares.h). Final:
    // every block is sizeof(HttpSession).
    static void* operator new(std::size_t size) { return ThreadSpares<HttpSession, 64>::take(size); }
    static void operator delete(void* block) { ThreadSpares<HttpSession, 64>::give(block); }

    void start();
    // A resumed session: read what woke the parked connection.
    void read_waiting();
    // A resumed HTTP/2 session whose idle timeout passed while parked.
    void expire_idle();
    // Shutdown deadline: end now.
    void abort() { close(Termination::kDrain); }
    // Drain began: an idle connection closes now, a busy one after its response.
    void drain();
    // A reload replaced the session's listener: HTTP/2 sends a graceful
    // GOAWAY (as drain_softly); an HTTP/1 connection goes on as it began.
    void listener_replaced();
    // A planned handover: as drain(), but an idle connection (or one whose
    // response went out as keep-alive before) stays open for the worker's
    // idle grace after its last answer (L7Worker::handover_idle_left_ms) to
    // send its next request, which is answered with Connection: close;
    // closing it at once would race a request the client may be sending
    // right then. (HTTP/2: a graceful GOAWAY, as drain().)
    void drain_softly();

    // Set by L7Worker; used to erase the session in O(1).
    std::list<std::unique_ptr<HttpSession>>::iterator self;

private:
    // kExchange: the driver has the request (phases 2-6, tunnels included).
    // kH2: the connection speaks HTTP/2; h2_ has every client event.
    enum class Phase : uint8_t { kIdle, kHead, kExchange, kH2, kClosing, kClosed };
    enum class Timer : uint8_t { kNone, kHandshake, kPark, kKeepAlive, kHeader, kFlush };

    // Phases 1 and 7 (http_session.cc).
    void read_request_head();
    void finish_request(Termination term);
    void end_request(Termination term);  // stats and log, then the exchange goes

    // ClientSide (client_side.h), for driver_.
    evbuffer* request_input() override { return bufferevent_get_input(client_.bev.get()); }
    bool request_input_ended() const override { return client_eof_; }
    void hold_request_reads(bool hold) override;
    evbuffer* response_output() override { return bufferevent_get_output(client_.bev.get()); }
    bool writes_to_socket() const override { return client_.ssl == nullptr; }
    int client_socket() const override { return client_.ssl == nullptr ? bufferevent_getfd(client_.bev.get()) : -1; }
    void send_interim(Exchange& ex, const ResponseInfo& interim) override;
    void send_response_head(Exchange& ex) override;
    void respond_local(int status, const std::string& content_type, const std::string& body, const HeaderList& extra,
                       Termination term, bool close) override;
    void respond_stored(const LocalAnswer& answer) override;
    void respond_error(int status, Termination term) override;
    void response_done(Termination term) override;
    void abort(Termination term) override { close(term); }
    bool draining() const override { return draining_; }
    void flush() override;
    void shutdown_write() override;

    // TLS listeners (http_session_tls.cc): the handshake before phase 1.
    void client_handshake_event(short what);
    void handshake_timed_out();

    // HTTP/2 (http_session_h2.cc): the preface on an h2c listener, or ALPN
    // "h2"; from then on h2_ is the codec.
    bool h2_preface();
    void start_h2();
    void h2_exchange_ended(const Exchange& ex, Termination term) override;
    void h2_close(Termination term) override { close(term); }
    bool h2_park(std::unique_ptr<H2ParkedState> state, uint32_t idle_left_ms) override;
    // A parked HTTP/2 connection's new codec (parked_h2_), from start().
    void resume_h2();

    // Ends the exchange with an answer of lbd's: `write(close)` puts it on
    // the client's output and returns its size.
    template <typename Write>
    void send_answer(int status, Termination term, bool close, Write&& write);

    // Endings (http_session.cc).
    void flush_and_close();
    void close(Termination term);
    // Ends the session object (closed or parked): timers off, freed from the loop.
    void retire();
    void log_request(const Exchange& ex, Termination term);

    // Arms timer_ for `kind`; a head phase also starts the request's clock.
    void arm(Timer kind, uint32_t ms);
    // Starts the exchange whose head was read (or refused, or timed out).
    Exchange& begin_exchange();

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
    // Parks with `h2` (null: HTTP/1) for `idle_left_ms`; false when it
    // cannot (something buffered, an address that does not fit).
    bool park(std::unique_ptr<H2ParkedState> h2, uint32_t idle_left_ms);

    static void on_client_read(bufferevent* bev, void* arg);
    static void on_client_write(bufferevent* bev, void* arg);
    static void on_client_event(bufferevent* bev, short what, void* arg);
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
    bool soft_drain_ = false;  // drain_softly(): an idle connection waits for its grace
    uint64_t idle_since_ms_ = 0;  // when the last answer went out (phase kIdle)
    PhaseTimer<Timer> timer_;  // the client side's phase (on_timer says what its expiry means)
    EventPtr resume_;  // runs the next pipelined request from the loop (made on the first)
    bool resumed_ = false;  // made for a parked connection
    bool request_reads_held_ = false;  // hold_request_reads

    // The request head being read, before it makes an Exchange.
    HeadScanState req_scan_;  // the head itself is parsed into the worker's request_head()
    bool head_started_ = false;  // a byte of the next request came
    uint64_t head_start_ms_ = 0;  // when its head phase began (arm(Timer::kHeader))
    // The request in flight and its response (exchange.h).
    ExchangeSlot exchange_;
    // Drives exchange_ towards the servers (phases 2-6); one per connection,
    // reused for each request.
    ExchangeDriver driver_;
    // Set once the connection speaks HTTP/2.
    std::unique_ptr<H2Connection> h2_;
    std::unique_ptr<H2ParkedState> parked_h2_;  // a parked HTTP/2 connection's, until start()
    bool had_request_ = false;  // an HTTP/1 request came (no h2c preface after it)
};

}  // namespace lbd::l7
