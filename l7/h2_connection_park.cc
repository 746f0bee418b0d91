// H2Connection, its idle timer and parking (h2_connection.h, h2_parked_state.h): an idle
// connection gives up its nghttp2 session, and a new one is built, as the
// client knows it, when the client's next bytes come.
//
// What the new session must agree on with the client, and how:
// - HPACK: the client's encoder refers to the decoder's dynamic table, which
//   nghttp2 cannot export. Before parking, SETTINGS_HEADER_TABLE_SIZE 0 is
//   sent and parking waits for its ACK: the client has then emptied its
//   table (RFC 7541 §4.2: its next head starts with a size update to 0,
//   which a fresh decoder accepts), and so has the decoder. A new session
//   gives the client its 4,096 bytes back; so does a request that comes
//   between the two.
// - Settings and windows: a new session is fed the client preface with the
//   client's SETTINGS (nghttp2_session_get_remote_settings), lbd's SETTINGS
//   are queued and "acknowledged" by a fed ACK. The client's connection
//   window is whole when parking (what it sent is given back first), so the
//   new session's 1 MiB is right. lbd's connection send window, what the
//   client granted, starts at 65,535 in a new session: a fed WINDOW_UPDATE
//   raises it, and the answer to the request below, a body of the
//   difference, lowers it (a client that returns its window lazily, as
//   python3-h2 does, parks below 65,535).
// - Stream ids: a fresh session would take a late WINDOW_UPDATE or
//   RST_STREAM for a closed stream (RFC 9113 allows them) as a frame for an
//   idle stream, a connection error, and would take a spent id as a new
//   request. A fed HEADERS for the last id (static-table fields only: the
//   decoder's table stays empty), answered at once, restores nghttp2's last
//   stream id; the GOAWAY of a drain names it.
// What nghttp2 answers to these frames is thrown away: the client had the
// answers from the parked session.
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>
#include <string>

#include "core/base/clock.h"
#include "l7/h2_connection.h"
#include "l7/http_listener.h"
#include "l7/parked_client.h"

namespace lbd::l7 {

namespace {

// RFC 9113: the client connection preface, and the initial connection window,
// which a fed WINDOW_UPDATE can only raise.
constexpr char kClientMagic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr int32_t kInitialWindow = 65535;
// The HPACK table size lbd's decoder offers (the protocol's default).
constexpr uint32_t kHeaderTableSize = 4096;
// The client's settings kept while parked, in H2ParkedState's order.
constexpr nghttp2_settings_id kRemoteSettings[H2ParkedState::kRemoteSettings] = {
    NGHTTP2_SETTINGS_HEADER_TABLE_SIZE,     NGHTTP2_SETTINGS_ENABLE_PUSH,
    NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
    NGHTTP2_SETTINGS_MAX_FRAME_SIZE,        NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
    NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES,
};

void put_u32(std::string& out, uint32_t v) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

void put_frame_header(std::string& out, size_t length, uint8_t type, uint8_t flags, int32_t stream_id) {
    out += static_cast<char>(length >> 16);
    out += static_cast<char>(length >> 8);
    out += static_cast<char>(length);
    out += static_cast<char>(type);
    out += static_cast<char>(flags);
    put_u32(out, static_cast<uint32_t>(stream_id));
}

// A request head of static-table fields only: GET, http, /, and
// ":authority: x" as a literal not indexed. nghttp2 checks it as a request.
constexpr char kRestoreHead[] = "\x82\x86\x84\x01\x01x";

// The body of the answer to that request: `*source.ptr` bytes (a size_t) of
// whatever the buffer holds, thrown away with the rest of the output.
ssize_t read_window_filler(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* data_flags,
                           nghttp2_data_source* source, void*) {
    auto& left = *static_cast<size_t*>(source->ptr);
    const size_t n = std::min(length, left);
    left -= n;
    if (left == 0) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

}  // namespace

H2RateBudget::H2RateBudget(uint32_t rate) : rate_(rate), tokens_(2.0 * rate), refill_ms_(monotonic_ms()) {}

bool H2RateBudget::take() {
    const uint64_t now = monotonic_ms();
    tokens_ = std::min(2.0 * rate_, tokens_ + rate_ * static_cast<double>(now - refill_ms_) / 1000.0);
    refill_ms_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

// --- going idle: the idle timer parks, or ends, the connection ----------------------

void H2Connection::arm_idle() {
    // A header block under way keeps its deadline (on_begin_headers).
    if (terminating_ || draining_ || head_stream_ != 0) return;
    if (!streams_.empty()) return (void)event_del(timer_.get());
    const Http2Config& cfg = listener_.http().http2;
    const uint32_t idle = cfg.idle_timeout_ms != 0 ? cfg.idle_timeout_ms : listener_.http().timeouts.client_keep_alive_ms;
    idle_deadline_ms_ = monotonic_ms() + idle;
    // First the park timer, as an idle HTTP/1 connection's (idle_timer()).
    arm_timer(timer_.get(), std::min(idle, kParkAfterMs));
}

void H2Connection::on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<H2Connection*>(arg);
    if (self->closed_) return;
    if (self->terminating_ || self->draining_) {
        // The GOAWAY did not leave in time (a client that does not read).
        self->closed_ = true;
        return self->owner_.h2_close(Termination::kClientAbort);
    }
    if (self->head_stream_ == 0 && self->streams_.empty()) return self->idle_timer();
    self->terminate(NGHTTP2_NO_ERROR, H2Limit::kHeaderTimeout);
    self->flush();
}

void H2Connection::idle_timer() {
    const uint64_t now = monotonic_ms();
    if (now >= idle_deadline_ms_) {
        terminate(NGHTTP2_NO_ERROR, H2Limit::kIdleTimeout);
        return flush();
    }
    if (parking_ == Parking::kAcked) finish_parking();
    else if (parking_ == Parking::kNone) ask_to_park();
    if (closed_) return;  // parked
    arm_timer(timer_.get(), static_cast<uint32_t>(idle_deadline_ms_ - now));
    flush();
}

bool H2Connection::send_window_restorable() const {
    // Below 65,535 the body that lowers a new session's window goes on the
    // last stream, within the client's initial stream window.
    const int32_t window = nghttp2_session_get_remote_window_size(session_);
    if (window >= kInitialWindow) return true;
    const int64_t stream_window =
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
    return window >= 0 && nghttp2_session_get_last_proc_stream_id(session_) > 0 &&
           kInitialWindow - window <= stream_window;
}

void H2Connection::ask_to_park() {
    if (!client_settings_seen_ || terminating_ || draining_ || !send_window_restorable()) return;
    // What the client sent and lbd has not given back (a body's last bytes
    // under the half-window nghttp2 waits for) is given back now: the new
    // session's window is the whole 1 MiB.
    if (const int32_t unreturned = nghttp2_session_get_effective_recv_data_length(session_); unreturned > 0)
        if (nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, 0, unreturned) != 0) return;
    const nghttp2_settings_entry no_table{NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 0};
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &no_table, 1) != 0) return;
    ++settings_unacked_;
    parking_ = Parking::kAsked;
}

void H2Connection::settings_acked() {
    if (settings_unacked_ > 0) --settings_unacked_;
    if (settings_unacked_ != 0 || parking_ != Parking::kAsked) return;
    parking_ = Parking::kAcked;
    // Parked from the loop, once what came with the ACK is read: a request
    // in the same read gets the table back instead.
    if (streams_.empty() && head_stream_ == 0) arm_timer(timer_.get(), 0);
    else restore_header_table();
}

bool H2Connection::parkable() const {
    return parking_ == Parking::kAcked && settings_unacked_ == 0 && !terminating_ && !draining_ &&
           head_stream_ == 0 && streams_.empty() && !nghttp2_session_want_write(session_) &&
           evbuffer_get_length(bufferevent_get_input(bev_)) == 0 &&
           evbuffer_get_length(bufferevent_get_output(bev_)) == 0 &&
           nghttp2_session_get_effective_recv_data_length(session_) == 0 &&
           send_window_restorable() &&
           nghttp2_session_get_hd_inflate_dynamic_table_size(session_) == 0;
}

void H2Connection::finish_parking() {
    const uint64_t now = monotonic_ms();
    if (parkable() && now < idle_deadline_ms_) {
        auto state = std::make_unique<H2ParkedState>(resets_, control_frames_);
        for (int i = 0; i < H2ParkedState::kRemoteSettings; ++i)
            state->remote_settings[i] = nghttp2_session_get_remote_settings(session_, kRemoteSettings[i]);
        state->send_window = nghttp2_session_get_remote_window_size(session_);
        state->last_stream_id = nghttp2_session_get_last_proc_stream_id(session_);
        state->glitches = glitches_;
        state->idle_deadline_ms = idle_deadline_ms_;
        if (owner_.h2_park(std::move(state), static_cast<uint32_t>(idle_deadline_ms_ - now))) {
            // The owner ends, and this with it, from the loop.
            closed_ = true;
            event_del(timer_.get());
            return;
        }
    }
    restore_header_table();
}

void H2Connection::restore_header_table() {
    parking_ = Parking::kNone;
    const nghttp2_settings_entry table{NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, kHeaderTableSize};
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &table, 1) == 0) ++settings_unacked_;
}

// --- waking ---------------------------------------------------------------------------

bool H2Connection::resume(const H2ParkedState& state) {
    if (!make_session()) return false;
    resets_ = state.resets;
    control_frames_ = state.control_frames;
    glitches_ = state.glitches;
    restoring_ = true;
    // The preface and the client's SETTINGS; lbd's (queued by make_session)
    // leave with nghttp2's ACK into the void, and a fed ACK applies them.
    std::string frames = kClientMagic;
    std::string settings;
    for (int i = 0; i < H2ParkedState::kRemoteSettings; ++i) {
        settings += static_cast<char>(kRemoteSettings[i] >> 8);
        settings += static_cast<char>(kRemoteSettings[i]);
        put_u32(settings, state.remote_settings[i]);
    }
    put_frame_header(frames, settings.size(), NGHTTP2_SETTINGS, NGHTTP2_FLAG_NONE, 0);
    frames += settings;
    bool ok = feed(frames) && discard_output();
    frames.clear();
    put_frame_header(frames, 0, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0);
    if (state.send_window > kInitialWindow) {
        put_frame_header(frames, 4, NGHTTP2_WINDOW_UPDATE, NGHTTP2_FLAG_NONE, 0);
        put_u32(frames, static_cast<uint32_t>(state.send_window - kInitialWindow));
    }
    if (state.last_stream_id > 0) {
        put_frame_header(frames, sizeof kRestoreHead - 1, NGHTTP2_HEADERS,
                         NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, state.last_stream_id);
        frames.append(kRestoreHead, sizeof kRestoreHead - 1);
    }
    ok = ok && feed(frames);
    size_t window_filler = state.send_window < kInitialWindow ? kInitialWindow - state.send_window : 0;
    if (ok && state.last_stream_id > 0) {
        // Answered (and so closed) at once, with a body that brings lbd's
        // send window down to the client's grant.
        static const nghttp2_nv status{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                                       const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("200")), 7, 3,
                                       NGHTTP2_NV_FLAG_NONE};
        nghttp2_data_provider filler{};
        filler.source.ptr = &window_filler;
        filler.read_callback = &read_window_filler;
        ok = nghttp2_submit_response(session_, state.last_stream_id, &status, 1,
                                     window_filler > 0 ? &filler : nullptr) == 0;
    }
    ok = ok && discard_output() && window_filler == 0 &&
         nghttp2_session_get_remote_window_size(session_) == state.send_window;
    restoring_ = false;
    if (!ok) return false;
    settings_unacked_ = 0;
    client_settings_seen_ = true;
    last_sent_ms_ = monotonic_ms();
    // The client's table back (its next head may start with a size update
    // to 0, which the new decoder takes).
    restore_header_table();
    // The parked connection's idle deadline holds; if no stream comes (a
    // PING woke it), it parks again.
    idle_deadline_ms_ = state.idle_deadline_ms;
    const uint64_t now = monotonic_ms();
    const uint32_t left = now < idle_deadline_ms_ ? static_cast<uint32_t>(idle_deadline_ms_ - now) : 0;
    arm_timer(timer_.get(), std::min(left, kParkAfterMs));
    return true;
}

void H2Connection::expire_idle() {
    if (closed_ || terminating_) return;
    terminate(NGHTTP2_NO_ERROR, H2Limit::kIdleTimeout);
    flush();
}

bool H2Connection::feed(const std::string& frames) {
    const ssize_t n =
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(frames.data()), frames.size());
    return n == static_cast<ssize_t>(frames.size());
}

bool H2Connection::discard_output() {
    for (;;) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) return false;
        if (n == 0) return true;
    }
}

}  // namespace lbd::l7
