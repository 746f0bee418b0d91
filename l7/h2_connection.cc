// H2Connection: the HTTP/2 client codec (h2_connection.h). nghttp2 parses
// and frames; this feeds it the client's bytes, maps its callbacks to
// streams (h2_stream.h), sends its output with back-pressure, and keeps the
// limits.
#include "l7/h2_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "core/base/log.h"
#include "l7/h2_stream.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"
#include "l7/socket_io.h"

namespace lbd::l7 {

namespace {

// nghttp2's output goes into the socket's buffer while it holds less than
// this; the client's write callback (low water) sends more.
constexpr size_t kOutputHighWater = 128 * 1024;
// Flow-control windows: how much a client may send ahead of its servers,
// per stream and per connection.
constexpr int32_t kStreamWindow = 256 * 1024;
constexpr int32_t kConnectionWindow = 1024 * 1024;

}  // namespace

H2Connection::H2Connection(L7Worker& worker, HttpListener& listener, const ClientEndpoint& endpoint,
                           bufferevent* bev, H2Owner& owner)
    : worker_(worker),
      listener_(listener),
      endpoint_(endpoint),
      bev_(bev),
      owner_(owner),
      response_budget_(listener.stats().h2_response_buffered_bytes),
      resets_(listener.http().http2.max_resets_per_second),
      control_frames_(listener.http().http2.max_control_frames_per_second) {
    timer_ = make_event(worker_.base(), -1, 0, &H2Connection::on_timer, this);
    reaper_ = make_event(worker_.base(), -1, 0, &H2Connection::on_reap, this);
    flusher_ = make_event(worker_.base(), -1, 0, &H2Connection::on_flush, this);
}

H2Connection::~H2Connection() {
    // Streams first: their exchanges end before the session they refer to.
    streams_.clear();
    retired_.clear();
    if (session_ != nullptr) nghttp2_session_del(session_);
}

nghttp2_session_callbacks* H2Connection::callbacks() {
    // Made once per thread and never changed (nghttp2 copies them into each
    // session); freed when the thread ends.
    using Callbacks = std::unique_ptr<nghttp2_session_callbacks, void (*)(nghttp2_session_callbacks*)>;
    thread_local Callbacks cbs{[] {
        nghttp2_session_callbacks* c = nullptr;
        if (nghttp2_session_callbacks_new(&c) != 0) return static_cast<nghttp2_session_callbacks*>(nullptr);
        nghttp2_session_callbacks_set_on_begin_headers_callback(c, &H2Connection::on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(c, &H2Connection::on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(c, &H2Connection::on_frame_recv);
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(c, &H2Connection::on_invalid_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &H2Connection::on_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(c, &H2Connection::on_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(c, &H2Connection::on_frame_send);
        nghttp2_session_callbacks_set_send_data_callback(c, &H2Connection::on_send_data);
        nghttp2_session_callbacks_set_on_begin_frame_callback(c, &H2Connection::on_begin_frame);
        return c;
    }(), &nghttp2_session_callbacks_del};
    return cbs.get();
}

int H2Connection::on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user) {
    if (hd->type == NGHTTP2_PRIORITY && hd->stream_id == 0)
        nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
    if (hd->type == NGHTTP2_PRIORITY_UPDATE) static_cast<H2Connection*>(user)->client_orders_streams_ = true;
    return 0;
}

bool H2Connection::start() {
    if (!make_session()) return false;
    listener_.stats().h2_connections.fetch_add(1, std::memory_order_relaxed);
    arm_idle();
    on_read();
    return true;
}

bool H2Connection::make_session() {
    nghttp2_session_callbacks* cbs = callbacks();
    nghttp2_option* option = nullptr;
    if (cbs == nullptr || nghttp2_option_new(&option) != 0) return false;
    // Windows open only as servers take the bytes (h2_stream.cc).
    nghttp2_option_set_no_auto_window_update(option, 1);
    const Http2Config& cfg = listener_.http().http2;
    nghttp2_option_set_max_settings(option, 32);
    // Debian's 1.52 carries the CONTINUATION-flood fix (default 8).
    nghttp2_option_set_max_continuations(option, cfg.max_continuations);
    // Memory per connection, most of all an idle one's: nghttp2 would keep
    // up to max_concurrent_streams closed streams (~230 bytes each) for
    // RFC 7540 priorities, which lbd does not use; and an HPACK encoder
    // table (1 KiB of slots and a copy of every response field indexed,
    // ~1.5 KiB after one response). Responses are encoded with the static
    // table and Huffman only, as HAProxy's and NGINX's are: each response
    // head costs a few dozen bytes more on the wire. The decoder's table
    // (the client's requests, cookies above all) stays at 4 KiB.
    nghttp2_option_set_no_closed_streams(option, 1);
    nghttp2_option_set_max_deflate_dynamic_table_size(option, 0);
    // Its outbound frame buffer is the thread's (h2_frame_buffer.h).
    nghttp2_mem mem = memory_.functions();
    const int rc = nghttp2_session_server_new3(&session_, cbs, this, option, &mem);
    nghttp2_option_del(option);
    if (rc != 0) return false;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg.max_header_list_bytes},
        // RFC 9218 scheduling instead of RFC 7540's tree: nghttp2 then sends a
        // connection's responses one after another (same urgency, not
        // incremental: in the order they had data) instead of a frame of each
        // in turn. With round robin, h2load -m100 and 64 KiB responses, all
        // 100 streams of a connection ended together, each only after the
        // whole wave had been read from the servers into lbd's memory
        // (bench/README.md, h2_burst.sh). A client's `priority` field still
        // counts; PRIORITY frames are ignored, as HAProxy does. A long
        // response shares the connection after a while (H2Stream::
        // share_long_response).
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
        // RFC 8441 §3, last so it can be left out: without it nghttp2 treats
        // a :protocol field as malformed (stream error PROTOCOL_ERROR).
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                                std::size(settings) - (cfg.websocket ? 0 : 1)) != 0)
        return false;
    ++settings_unacked_;
    return nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow) == 0;
}

// --- bytes in and out ------------------------------------------------------------------

void H2Connection::on_read() {
    if (closed_) return;
    evbuffer* in = bufferevent_get_input(bev_);
    while (!closed_ && !terminating_ && evbuffer_get_length(in) > 0) {
        evbuffer_iovec vec{};
        if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1) break;
        const ssize_t n = nghttp2_session_mem_recv(session_, static_cast<const uint8_t*>(vec.iov_base), vec.iov_len);
        if (n < 0) {
            // A connection error: nghttp2 has queued GOAWAY (a bad preface
            // has none to send).
            LOG_DEBUG("http listener=%s client=%s: h2: %s", listener_.config().name.c_str(),
                      endpoint_.peer.to_string().c_str(), nghttp2_strerror(static_cast<int>(n)));
            const bool continuations = n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
            const H2Limit cause = n == NGHTTP2_ERR_FLOODED ? H2Limit::kFlood
                                  : continuations      ? H2Limit::kContinuations
                                                       : H2Limit::kProtocolError;
            listener_.stats().h2_limits[static_cast<size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
            evbuffer_drain(in, evbuffer_get_length(in));
            if (n != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
                // nghttp2 queues no GOAWAY for too many CONTINUATIONs.
                terminate(continuations ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR, cause);
                break;
            }
            closed_ = true;
            return owner_.h2_close(Termination::kBadRequest);
        }
        evbuffer_drain(in, static_cast<size_t>(n));
    }
    // After a GOAWAY for abuse nothing more is parsed; what the client goes
    // on sending is dropped, not kept until the connection closes.
    if (terminating_) evbuffer_drain(in, evbuffer_get_length(in));
    flush();
}

void H2Connection::on_write() { flush(); }

void H2Connection::schedule_flush() {
    if (flush_pending_) return;
    flush_pending_ = true;
    // Queued behind the callbacks already active in this loop turn (other
    // servers' responses); a flush() before it runs leaves it nothing to do.
    event_active(flusher_.get(), EV_TIMEOUT, 0);
}

void H2Connection::on_flush(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<H2Connection*>(arg);
    if (self->flush_pending_) self->flush();
}

void H2Connection::flush() {
    if (closed_ || flushing_ || session_ == nullptr) return;
    flush_pending_ = false;
    flushing_ = true;
    evbuffer* out = bufferevent_get_output(bev_);
    bool sent = false;
    for (;;) {
        while (evbuffer_get_length(out) < kOutputHighWater) {
            const uint8_t* data = nullptr;
            const ssize_t n = nghttp2_session_mem_send(session_, &data);
            if (n < 0) {
                flushing_ = false;
                closed_ = true;
                return owner_.h2_close(Termination::kClientAbort);
            }
            if (n > 0) {
                evbuffer_add(out, data, static_cast<size_t>(n));
            } else if (!std::exchange(data_frame_written_, false)) {
                break;  // nothing more to send
            }
            sent = true;
        }
        if (drained_.empty()) break;
        // Streams whose bytes went out may take more from their servers;
        // what they add is sent by the next round.
        refilling_.swap(drained_);
        for (H2Stream* s : refilling_) s->writable();
        refilling_.clear();
        if (evbuffer_get_length(out) >= kOutputHighWater) break;
    }
    flushing_ = false;
    if (sent) last_sent_ms_ = monotonic_ms();
    flush_output(bev_);
    // What the client's frames made the drivers write to their servers
    // (heads, body bytes) goes out now, as HttpSession's FlushOnReturn does.
    flushing_upstreams_.swap(upstream_written_);
    for (H2Stream* stream : flushing_upstreams_) stream->flush_upstream();
    flushing_upstreams_.clear();
    maybe_close();
}

int H2Connection::on_send_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                               nghttp2_data_source* source, void* user) {
    auto* self = static_cast<H2Connection*>(user);
    evbuffer* out = bufferevent_get_output(self->bev_);
    // No padding: lbd sets no select_padding callback, so padlen is 0.
    if (frame->data.padlen != 0 || evbuffer_add(out, framehd, 9) != 0 ||
        !static_cast<H2Stream*>(source->ptr)->send_body(out, length))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    // Back to flush() after each frame, which stops at kOutputHighWater;
    // nghttp2 would otherwise go on to every frame it can send.
    self->data_frame_written_ = true;
    return NGHTTP2_ERR_PAUSE;
}

void H2Connection::maybe_close() {
    if (closed_) return;
    if (nghttp2_session_want_read(session_) || nghttp2_session_want_write(session_)) return;
    // GOAWAY sent and no stream left: close once the socket took it all.
    if (evbuffer_get_length(bufferevent_get_output(bev_)) != 0) return;
    closed_ = true;
    // A plain close: an RST could drop the GOAWAY before the client reads it.
    owner_.h2_close(Termination::kOk);
}

void H2Connection::forget(H2Stream* stream) {
    // Freed only from on_reap, never while flush() walks these lists.
    std::erase(upstream_written_, stream);
}

void H2Connection::stream_drained(H2Stream* stream) {
    if (std::find(drained_.begin(), drained_.end(), stream) == drained_.end()) drained_.push_back(stream);
}

// --- limits ---------------------------------------------------------------------------

void H2Connection::glitch(H2Limit cause) {
    // nghttp2 goes on parsing the rest of what it was given after a GOAWAY
    // for abuse; that is not counted again.
    if (terminating_) return;
    listener_.stats().h2_limits[static_cast<size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
    if (++glitches_ > listener_.http().http2.max_glitches && !terminating_)
        terminate(NGHTTP2_ENHANCE_YOUR_CALM, H2Limit::kGlitches);
}

void H2Connection::count_reset(H2Limit cause) {
    if (!resets_.take() && !terminating_) terminate(NGHTTP2_ENHANCE_YOUR_CALM, cause);
}

void H2Connection::check_control_frame(const nghttp2_frame& frame) {
    switch (frame.hd.type) {
        case NGHTTP2_PING:
        case NGHTTP2_SETTINGS:
            // Each needs an answer (an ACK): a client that sends them without
            // reading the answers makes lbd's output grow, and nghttp2's own
            // check (1,000 answers queued) comes only once the socket's
            // buffers are full, megabytes later. A SETTINGS ACK answers lbd's
            // own and is not counted.
            if (frame.hd.type == NGHTTP2_SETTINGS && (frame.hd.flags & NGHTTP2_FLAG_ACK) != 0) return settings_acked();
            if (frame.hd.type == NGHTTP2_SETTINGS) client_settings_seen_ = true;
            if (!control_frames_.take() && !terminating_)
                terminate(NGHTTP2_ENHANCE_YOUR_CALM,
                          frame.hd.type == NGHTTP2_PING ? H2Limit::kPingFlood : H2Limit::kSettingsFlood);
            return;
        case NGHTTP2_WINDOW_UPDATE:
            // A window opened a byte at a time: each byte is a DATA frame of
            // lbd's, and the stream's response (and its server) is held with
            // every byte counting as progress for body_idle_ms.
            if (frame.window_update.window_size_increment <
                static_cast<int32_t>(listener_.http().http2.min_window_update_bytes))
                glitch(H2Limit::kSmallWindowUpdate);
            return;
        default: return;
    }
}

void H2Connection::terminate(uint32_t error, H2Limit cause) {
    if (terminating_) return;
    terminating_ = true;
    if (cause != H2Limit::kProtocolError && cause != H2Limit::kFlood && cause != H2Limit::kContinuations)
        listener_.stats().h2_limits[static_cast<size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
    LOG_DEBUG("http listener=%s client=%s: h2 GOAWAY (%s)", listener_.config().name.c_str(),
              endpoint_.peer.to_string().c_str(), to_string(cause));
    nghttp2_session_terminate_session(session_, error);
    // The exchanges end now: nothing more is read from this client.
    for (auto& s : streams_) s->shutdown(Termination::kClientAbort);
    // The GOAWAY gets body_idle_ms to leave.
    arm_timer(timer_.get(), listener_.http().timeouts.body_idle_ms);
}

void H2Connection::drain() {
    if (draining_ || closed_) return;
    draining_ = true;
    // Graceful: the last stream id is what came so far; open streams finish.
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    // With no stream left, the GOAWAY gets body_idle_ms to leave, as at
    // terminate(), not what the idle timer had left (50 ms after a parked
    // connection woke for this drain).
    if (streams_.empty() && head_stream_ == 0) arm_timer(timer_.get(), listener_.http().timeouts.body_idle_ms);
    flush();
}

void H2Connection::shutdown(Termination term) {
    closed_ = true;
    event_del(timer_.get());
    for (auto& s : streams_) s->shutdown(term);
}

void H2Connection::head_ended(int32_t id) {
    if (head_stream_ == 0 || id != head_stream_) return;
    head_stream_ = 0;
    event_del(timer_.get());
    arm_idle();
}

// --- streams --------------------------------------------------------------------------

H2Stream* H2Connection::stream(int32_t id) {
    return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

void H2Connection::retire(H2Stream* stream) {
    nghttp2_session_set_stream_user_data(session_, stream->id(), nullptr);
    retired_.push_back(std::move(*stream->self));
    streams_.erase(stream->self);
    drained_.erase(std::remove(drained_.begin(), drained_.end(), stream), drained_.end());
    event_active(reaper_.get(), EV_TIMEOUT, 0);
    arm_idle();
}

void H2Connection::on_reap(evutil_socket_t, short, void* arg) { static_cast<H2Connection*>(arg)->retired_.clear(); }

int H2Connection::on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<H2Connection*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    // After a GOAWAY for abuse, what the rest of the input opens is ignored
    // (no exchange, no server connection).
    if (self->terminating_ || self->restoring_) return 0;
    // A request while the client's HPACK table is emptied for parking: it
    // gets its table back.
    if (self->parking_ == Parking::kAcked) self->restore_header_table();
    // Until the block ends no other frame may come (RFC 9113 §6.10), so a
    // client that sends a head slowly, or half of one, holds the
    // connection: it has client_header_ms, as an HTTP/1 head has.
    if (!self->draining_) {
        self->head_stream_ = frame->hd.stream_id;
        arm_timer(self->timer_.get(), self->listener_.http().timeouts.client_header_ms);
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto stream = std::make_unique<H2Stream>(*self, frame->hd.stream_id);
    H2Stream* raw = stream.get();
    self->streams_.push_front(std::move(stream));
    raw->self = self->streams_.begin();
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, raw);
    return 0;
}

int H2Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                            const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<H2Connection*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Stream* s = self->stream(frame->hd.stream_id);
    if (s == nullptr) return 0;
    const std::string_view n{reinterpret_cast<const char*>(name), namelen};
    const std::string_view v{reinterpret_cast<const char*>(value), valuelen};
    // Trailers (HCAT_HEADERS) go to HTTP/2 servers only (h2_upstream.h).
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (!s->on_header(n, v)) {
            // nghttp2 resets the stream and skips the rest of the block.
            self->glitch(H2Limit::kHeaderList);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) s->on_trailer(n, v);
    return 0;
}

int H2Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<H2Connection*>(user);
    // the exchanges have ended, or these are resume()'s own frames: nothing more is counted
    if (self->terminating_ || self->restoring_) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
            self->head_ended(frame->hd.stream_id);
            if (H2Stream* s = self->stream(frame->hd.stream_id)) {
                if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) s->on_request_head(end_stream);
                else if (end_stream) s->on_request_end();
            }
            return 0;
        case NGHTTP2_DATA:
            if (frame->hd.length == 0 && !end_stream) self->glitch(H2Limit::kEmptyData);
            if (end_stream)
                if (H2Stream* s = self->stream(frame->hd.stream_id)) s->on_request_end();
            return 0;
        case NGHTTP2_RST_STREAM: self->count_reset(H2Limit::kResetRate); return 0;
        default: self->check_control_frame(*frame); return 0;
    }
}

int H2Connection::on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame* frame, int error, void* user) {
    auto* self = static_cast<H2Connection*>(user);
    if (frame->hd.type == NGHTTP2_HEADERS) self->head_ended(frame->hd.stream_id);
    self->glitch(error == NGHTTP2_ERR_REFUSED_STREAM ? H2Limit::kConcurrentStreams : H2Limit::kProtocolError);
    return 0;
}

int H2Connection::on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                                void* user) {
    auto* self = static_cast<H2Connection*>(user);
    if (H2Stream* s = self->stream(stream_id)) s->on_data(data, len);
    else nghttp2_session_consume(self->session_, stream_id, len);
    return 0;
}

int H2Connection::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_RST_STREAM) return 0;
    // MadeYouReset (CVE-2025-8671): a client that makes lbd reset its
    // streams (DATA that do not match the content-length, a bad header, a
    // stream window overflowed) frees its stream slots
    // without sending RST_STREAM itself, so the client reset rate never
    // sees it. These resets draw on the same bucket. Not counted: NO_ERROR
    // (the response ended before the request body), REFUSED_STREAM (over
    // max_concurrent_streams: no exchange began; a glitch already) and
    // INTERNAL_ERROR (lbd's own abort when a server fails mid-response),
    // CANCEL (a WebSocket whose server reset or timed out, RFC 8441 §5).
    const uint32_t code = frame->rst_stream.error_code;
    if (code == NGHTTP2_NO_ERROR || code == NGHTTP2_REFUSED_STREAM || code == NGHTTP2_INTERNAL_ERROR ||
        code == NGHTTP2_CANCEL)
        return 0;
    static_cast<H2Connection*>(user)->count_reset(H2Limit::kServerResets);
    return 0;
}

int H2Connection::on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* self = static_cast<H2Connection*>(user);
    // A stream closed under its header block (a header that made nghttp2
    // reset it) lets the connection take other frames again.
    self->head_ended(stream_id);
    if (H2Stream* s = self->stream(stream_id)) s->on_close(error_code);
    return 0;
}

}  // namespace lbd::l7
