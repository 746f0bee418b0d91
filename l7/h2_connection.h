// The HTTP/2 client codec (RFC 9113) on libnghttp2: one client connection
// that chose "h2" by ALPN, or opened with the preface on a plain listener
// with `http2 { cleartext: true }`. Each stream is an H2Stream
// (h2_stream.h): an Exchange driven by the same ExchangeDriver as an HTTP/1
// request, towards the servers over HTTP/1.1.
//
// The connection is owned by its HttpSession, which keeps the socket, the
// TLS state and the listener; the session hands every client event here
// once the protocol is known, and this calls back H2Owner to log an
// exchange or end the connection.
//
// Flow control with back-pressure both ways: nghttp2 sends no window update
// by itself (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE); a stream's request bytes
// are consumed (nghttp2_session_consume) only as its server takes them, so a
// slow server holds a client to the stream window. Response bytes leave a
// stream's buffer only as fast as the client's socket and window take them
// (a deferred data provider); the driver fills the buffer only below its
// high water mark.
//
// Defences (each counted in lbd_http2_limits_total{cause}): concurrent
// streams (nghttp2 refuses the extra ones with REFUSED_STREAM), header list
// size (431), stream resets per second (Rapid Reset: GOAWAY
// ENHANCE_YOUR_CALM), and in the same bucket the resets lbd sends for the
// client's faults (MadeYouReset, CVE-2025-8671, which Debian's nghttp2 1.52
// does not bound), CONTINUATION frames per head, PING and SETTINGS frames
// per second (floods whose answers a client that does not read would pile
// up), a glitch budget (protocol errors, refused and reset streams, empty
// DATA frames, oversized heads, WINDOW_UPDATEs that dribble a window open:
// GOAWAY ENHANCE_YOUR_CALM), nghttp2's own flood checks, a header timeout
// (a header block holds the whole connection until it ends) and an idle
// timeout; tests/integration/h2_attacks.py runs the attacks. Drain and
// reload send a graceful GOAWAY: open streams finish, new ones are refused.
//
// Memory: a busy connection keeps its nghttp2 session (~9.5 KB with its
// HPACK decoder table), without closed streams, an HPACK encoder table or
// an outbound frame buffer of its own (h2_frame_buffer.h); bench/README.md
// ("Where an idle HTTP/2 connection's bytes go") has it part by part. An
// idle one is parked as an idle HTTP/1 connection is (parked_client.h):
// after 50 ms without a stream it asks the client to empty its HPACK table
// (SETTINGS_HEADER_TABLE_SIZE 0), and once that is acknowledged gives up
// its session and this object, keeping what a new session needs
// (h2_parked_state.h); its next bytes build one (h2_connection_park.cc).
//
// Worker thread only.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "core/base/clock.h"
#include "core/loop/event.h"
#include "l7/exchange.h"
#include "l7/h2_frame_buffer.h"
#include "l7/h2_parked_state.h"
#include "l7/h2_response_budget.h"
#include "l7/proxy_types.h"

struct bufferevent;

namespace lbd::l7 {

class L7Worker;
class HttpListener;
class H2Stream;

// What the HttpSession around the connection does for it.
class H2Owner {
public:
    virtual ~H2Owner() = default;
    // An exchange ended: counters, access log (proto=h2).
    virtual void h2_exchange_ended(const Exchange& ex, Termination term) = 0;
    // The connection is over (GOAWAY sent, or the client gone): close it.
    virtual void h2_close(Termination term) = 0;
    // The connection is idle and may park (parked_client.h) with `state`
    // for `idle_left_ms`: true when it did (the owner then ends, and with it
    // this codec), false when it cannot (the codec goes on).
    virtual bool h2_park(std::unique_ptr<H2ParkedState> state, uint32_t idle_left_ms) = 0;
};

class H2Connection {
public:
    H2Connection(L7Worker& worker, HttpListener& listener, const ClientEndpoint& endpoint, bufferevent* bev,
                 H2Owner& owner);
    ~H2Connection();
    H2Connection(const H2Connection&) = delete;
    H2Connection& operator=(const H2Connection&) = delete;

    // Sends the server preface (SETTINGS) and reads what waits. False:
    // nghttp2 could not start (no memory); the caller closes.
    bool start();
    // A parked connection's next bytes (or its drain) came: a new nghttp2
    // session is built from `state` as the parked one was
    // (h2_connection_park.cc); the caller then reads. False: nghttp2 could
    // not (no memory); the caller closes.
    bool resume(const H2ParkedState& state);
    // A parked connection's idle timeout passed: GOAWAY, then close.
    void expire_idle();
    void on_read();
    void on_write();
    // Graceful GOAWAY: open streams finish, then the connection closes.
    void drain();
    // The owner closes the connection now: every open exchange ends with
    // `term`. Nothing is sent or read after it.
    void shutdown(Termination term);
    // Sends what nghttp2 has queued (frames, stream data) into the socket.
    void flush();
    // flush() once the loop has run the callbacks that are ready now: the
    // responses of many streams that come in one loop turn leave in one
    // write (one TLS record run) instead of one each.
    void schedule_flush();

    // For H2Stream.
    nghttp2_session* session() { return session_; }
    L7Worker& worker() { return worker_; }
    HttpListener& listener() { return listener_; }
    const ClientEndpoint& endpoint() const { return endpoint_; }
    H2Owner& owner() { return owner_; }
    // When a flush last sent frames to the client (H2Stream::connection_sent_ms).
    uint64_t last_sent_ms() const { return last_sent_ms_; }
    bool draining() const { return draining_; }
    // The client sends RFC 9218 PRIORITY_UPDATE frames: it orders its
    // streams itself (H2Stream::share_long_response).
    bool client_orders_streams() const { return client_orders_streams_; }
    // Streams open or ending (H2Stream::server_read sizes first reads by it).
    size_t stream_count() const { return streams_.size(); }
    // `stream` moved response bytes to nghttp2: its driver may refill.
    void stream_drained(H2Stream* stream);
    // The client's frames gave `stream`'s driver a request head or body
    // bytes, or its WebSocket client took more: what the driver wrote to its server
    // goes out at the end of flush(), as HttpSession's FlushOnReturn does.
    void upstream_written(H2Stream* stream) {
        if (upstream_written_.empty() || upstream_written_.back() != stream) upstream_written_.push_back(stream);
    }
    // `stream` is being freed.
    void forget(H2Stream* stream);
    H2ResponseBudget& response_budget() { return response_budget_; }
    // A limit was hit (lbd_http2_limits_total{cause}); a glitch counts
    // against the budget (GOAWAY when spent).
    void glitch(H2Limit cause);
    // The stream is done with (closed by nghttp2, exchange ended): freed
    // from the loop.
    void retire(H2Stream* stream);

private:
    static nghttp2_session_callbacks* callbacks();
    static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user);
    static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
    static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user);
    // A PRIORITY frame on stream 0 is a connection error (RFC 9113 §6.3); nghttp2
    // skips PRIORITY frames unread once SETTINGS_NO_RFC7540_PRIORITIES is sent.
    // A PRIORITY_UPDATE marks a client that orders its streams itself.
    static int on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user);
    static int on_invalid_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, int error, void* user);
    static int on_data_chunk(nghttp2_session* session, uint8_t flags, int32_t stream_id, const uint8_t* data,
                             size_t len, void* user);
    static int on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user);
    static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user);
    // A response DATA frame: its header, then the stream's bytes moved into
    // the output (H2Stream::send_body), not copied through nghttp2's frame
    // buffer (NGHTTP2_DATA_FLAG_NO_COPY, h2_stream_send.cc).
    static int on_send_data(nghttp2_session* session, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                            nghttp2_data_source* source, void* user);
    static void on_timer(evutil_socket_t fd, short what, void* arg);
    static void on_reap(evutil_socket_t fd, short what, void* arg);
    static void on_flush(evutil_socket_t fd, short what, void* arg);

    // Where parking is (h2_connection_park.cc).
    enum class Parking : uint8_t {
        kNone,
        kAsked,  // SETTINGS_HEADER_TABLE_SIZE 0 sent, its ACK awaited
        kAcked,  // both HPACK tables are empty: park at the next timer (0 ms)
    };

    // nghttp2's session with lbd's options and SETTINGS queued.
    bool make_session();
    // The idle timer: park (first ask, then once acknowledged), or time out.
    void idle_timer();
    // Idle and quiet: ask the client to empty its HPACK table (its encoder
    // refers to the decoder's table, which a new session would not have).
    void ask_to_park();
    void settings_acked();
    // Parks if the connection is still idle, else gives the client its
    // HPACK table back.
    void finish_parking();
    bool parkable() const;
    // Whether a new session's connection send window can be set to this one's.
    bool send_window_restorable() const;
    void restore_header_table();
    // Feeds `frames` to the new session (resume()) and throws away what it
    // answers: the client already has those answers.
    bool feed(const std::string& frames);
    bool discard_output();

    H2Stream* stream(int32_t id);
    // GOAWAY with `error`, then close once it is sent.
    void terminate(uint32_t error, H2Limit cause);
    // A stream reset by the client (kResetRate) or by lbd for the client's
    // fault (kServerResets): one token of the shared bucket.
    void count_reset(H2Limit cause);
    // A frame the client may send at will (PING, SETTINGS, WINDOW_UPDATE):
    // within its limits or GOAWAY.
    void check_control_frame(const nghttp2_frame& frame);
    // The header block of stream `id` ended (or was dropped with its
    // stream): the connection may take other frames again.
    void head_ended(int32_t id);
    void arm_idle();
    void maybe_close();

    L7Worker& worker_;
    HttpListener& listener_;
    const ClientEndpoint& endpoint_;
    bufferevent* bev_;
    H2Owner& owner_;
    H2SessionMemory memory_;  // before session_, which uses it to its end
    nghttp2_session* session_ = nullptr;
    H2ResponseBudget response_budget_;  // outlives the streams
    std::list<std::unique_ptr<H2Stream>> streams_;
    std::vector<std::unique_ptr<H2Stream>> retired_;
    std::vector<H2Stream*> drained_;  // streams whose driver may refill (flush())
    // upstream_written(): flushed and cleared by flush(); not every stream,
    // which with 100 streams a connection cost more than the flushes did.
    std::vector<H2Stream*> upstream_written_;
    std::vector<H2Stream*> flushing_upstreams_;  // flush()'s copy of upstream_written_, kept for its capacity
    std::vector<H2Stream*> refilling_;  // drained_ being served (kept for its capacity)
    EventPtr timer_;  // idle or header timeout; after GOAWAY, the flush deadline
    EventPtr reaper_;
    EventPtr flusher_;  // schedule_flush()
    bool flush_pending_ = false;
    bool draining_ = false;
    bool terminating_ = false;
    bool flushing_ = false;
    bool data_frame_written_ = false;  // on_send_data wrote a frame in this nghttp2_session_mem_send
    bool closed_ = false;
    bool client_orders_streams_ = false;
    int32_t head_stream_ = 0;  // whose header block began and has not ended (0: none)
    uint32_t glitches_ = 0;
    H2RateBudget resets_;
    H2RateBudget control_frames_;
    uint64_t last_sent_ms_ = 0;
    uint64_t idle_deadline_ms_ = 0;  // arm_idle(): the idle timeout, which parking keeps
    Parking parking_ = Parking::kNone;
    bool restoring_ = false;  // resume() feeds its frames: callbacks ignore them
    bool client_settings_seen_ = false;  // the client's first SETTINGS came
    uint32_t settings_unacked_ = 0;  // lbd's SETTINGS frames the client has not acknowledged
};

}  // namespace lbd::l7
