// H2Upstreams and H2UpstreamSession: the worker's HTTP/2 client sessions to
// servers, one TCP connection each (h2_upstream.h).
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "core/base/log.h"
#include "l7/exchange.h"
#include "l7/h2_upstream_session.h"
#include "l7/socket_io.h"
#include "l7/tls/tls_context.h"
#include "l7/transport.h"

namespace lbd::l7 {

namespace {

// Streams a session takes before the server's SETTINGS say how many it allows.
constexpr uint32_t kAssumedMaxStreams = 100;
// And at most, whatever the server allows.
constexpr uint32_t kMaxStreams = 1000;
// Each stream's receive window (the server sends this much ahead of the
// client draining it), and the connection's.
constexpr int32_t kStreamWindow = 256 * 1024;
constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
// Frames go into the socket's output only below this.
constexpr size_t kSendHighWater = 256 * 1024;

}  // namespace

std::atomic<uint64_t> H2UpstreamStats::connections{0};
std::atomic<uint64_t> H2UpstreamStats::streams{0};

// --- H2Upstreams ----------------------------------------------------------------------

H2Upstreams::H2Upstreams(event_base* base) : base_(base) {}

H2Upstreams::~H2Upstreams() = default;

H2Upstreams::Opened H2Upstreams::open(Exchange& ex, uint32_t idle_ms,
                                      const std::shared_ptr<const TlsClientContext>& tls,
                                      const std::string& check_name) {
    Opened out;
    auto& list = sessions_[ex.server.get()];
    H2UpstreamSession* session = nullptr;
    for (auto& s : list)
        if (s->tls() == tls.get() && s->has_room()) {
            session = s.get();
            break;
        }
    if (session == nullptr) {
        auto fresh = std::make_unique<H2UpstreamSession>(*this, ex.server, idle_ms, tls);
        if (int err = fresh->connect(check_name); err != 0) {
            out.error = err;
            return out;
        }
        session = fresh.get();
        list.push_back(std::move(fresh));
    }
    bufferevent* pair[2] = {nullptr, nullptr};
    if (bufferevent_pair_new(base_, BEV_OPT_DEFER_CALLBACKS, pair) != 0) {
        out.error = ENOMEM;
        return out;
    }
    out.conn = std::make_unique<UpstreamConn>();
    out.conn->server = ex.server;
    out.conn->bev.reset(pair[1]);
    out.conn->link = std::make_unique<H2UpstreamStream>(session, ex, *out.conn, BufferEventPtr(pair[0]));
    out.ready = session->connected();
    return out;
}

size_t H2Upstreams::session_count() const {
    size_t n = 0;
    for (const auto& [server, list] : sessions_) n += list.size();
    return n;
}

size_t H2Upstreams::stream_count() const {
    size_t n = 0;
    for (const auto& [server, list] : sessions_)
        for (const auto& s : list) n += s->stream_count();
    return n;
}

size_t H2Upstreams::drain(const Server* server) {
    auto it = sessions_.find(server);
    if (it == sessions_.end()) return 0;
    // A session that closes leaves the list (retire): walk a copy.
    std::vector<H2UpstreamSession*> list;
    for (auto& s : it->second) list.push_back(s.get());
    size_t closed = 0;
    for (H2UpstreamSession* s : list) closed += s->drain() ? 1 : 0;
    return closed;
}

void H2Upstreams::retire(H2UpstreamSession* session) {
    auto it = sessions_.find(session->server());
    if (it == sessions_.end()) return;
    for (auto s = it->second.begin(); s != it->second.end(); ++s) {
        if (s->get() != session) continue;
        // Freed from the loop: this may run inside the session's own callback.
        retired_.push_back(std::move(*s));
        it->second.erase(s);
        break;
    }
    if (it->second.empty()) sessions_.erase(it);
    if (!reaper_) reaper_ = make_event(base_, -1, 0, &H2Upstreams::on_reap, this);
    if (reaper_) event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void H2Upstreams::on_reap(evutil_socket_t, short, void* arg) { static_cast<H2Upstreams*>(arg)->retired_.clear(); }

// --- H2UpstreamSession ------------------------------------------------------------------

nghttp2_session_callbacks* H2UpstreamSession::callbacks() {
    static nghttp2_session_callbacks* const cbs = [] {
        nghttp2_session_callbacks* c = nullptr;
        nghttp2_session_callbacks_new(&c);
        nghttp2_session_callbacks_set_on_header_callback(c, &H2UpstreamSession::on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(c, &H2UpstreamSession::on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &H2UpstreamSession::on_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(c, &H2UpstreamSession::on_stream_close);
        nghttp2_session_callbacks_set_on_frame_not_send_callback(c, &H2UpstreamSession::on_frame_not_send);
        return c;
    }();
    return cbs;
}

H2UpstreamSession::H2UpstreamSession(H2Upstreams& owner, std::shared_ptr<Server> server, uint32_t idle_ms,
                                     std::shared_ptr<const TlsClientContext> tls)
    : owner_(owner), server_(std::move(server)), idle_ms_(idle_ms), tls_(std::move(tls)) {}

H2UpstreamSession::~H2UpstreamSession() {
    // Only at the worker's end can streams still be attached: they just let go.
    for (H2UpstreamStream* s : streams_) s->orphan();
    if (session_ != nullptr) nghttp2_session_del(session_);
}

int H2UpstreamSession::connect(const std::string& check_name) {
    nghttp2_option* option = nullptr;
    if (nghttp2_option_new(&option) != 0) return ENOMEM;
    // Windows open only as the client side drains (h2_upstream.h).
    nghttp2_option_set_no_auto_window_update(option, 1);
    const int rv = nghttp2_session_client_new2(&session_, callbacks(), this, option);
    nghttp2_option_del(option);
    if (rv != 0) return ENOMEM;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
    bev_ = make_server_stream(owner_.base(), tls_.get(), check_name);
    if (!bev_) return ENOMEM;
    bufferevent* bev = bev_.get();
    bufferevent_setcb(bev, &H2UpstreamSession::on_read, &H2UpstreamSession::on_write, &H2UpstreamSession::on_event,
                      this);
    SocketAddress copy = server_->address();
    if (bufferevent_socket_connect(bev, copy.sockaddr_ptr(), static_cast<int>(copy.length())) != 0) return errno;
    server_->counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    H2UpstreamStats::connections.fetch_add(1, std::memory_order_relaxed);
    use_large_io(bev);
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_setwatermark(bev, EV_WRITE, kSendHighWater / 4, 0);
    return 0;
}

bool H2UpstreamSession::has_room() const {
    if (goaway_ || state_ == State::kClosed || session_ == nullptr) return false;
    if (!nghttp2_session_check_request_allowed(session_)) return false;
    // Until the server's SETTINGS say, streams wait (at most this many);
    // past its limit nghttp2 would hold them back anyway.
    uint32_t limit = kAssumedMaxStreams;
    if (settings_) {
        limit = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        limit = std::min(limit, kMaxStreams);
    }
    return streams_.size() < limit;
}

bool H2UpstreamSession::drain() {
    if (state_ == State::kClosed) return false;
    goaway_ = true;
    if (!streams_.empty()) return false;  // detach() closes it after the last one
    if (state_ == State::kReady) {
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
        send();
    }
    close(false);
    return true;
}

void H2UpstreamSession::attach(H2UpstreamStream* stream) {
    streams_.push_back(stream);
    stream->self = std::prev(streams_.end());
    if (idle_timer_) event_del(idle_timer_.get());
}

void H2UpstreamSession::detach(H2UpstreamStream* stream) {
    streams_.erase(stream->self);
    update_idle();
}

void H2UpstreamSession::update_idle() {
    if (!streams_.empty() || state_ == State::kClosed) return;
    // Nobody waits for a connect that has not come up, nor for a session
    // going away (the server's GOAWAY, or a drain: it says GOAWAY too).
    if (state_ == State::kConnecting) return close(false);
    if (goaway_) {
        drain();
        return;
    }
    if (!idle_timer_) idle_timer_ = make_event(owner_.base(), -1, 0, &H2UpstreamSession::on_idle, this);
    if (!idle_timer_) return;
    timeval tv{static_cast<time_t>(idle_ms_ / 1000), static_cast<suseconds_t>(idle_ms_ % 1000 * 1000)};
    event_add(idle_timer_.get(), &tv);
}

void H2UpstreamSession::on_idle(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<H2UpstreamSession*>(arg);
    if (self->streams_.empty()) self->drain();
}

void H2UpstreamSession::send() {
    if (in_nghttp2_ || state_ != State::kReady) return;
    evbuffer* out = bufferevent_get_output(bev_.get());
    in_nghttp2_ = true;
    while (evbuffer_get_length(out) < kSendHighWater) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n <= 0) break;
        evbuffer_add(out, data, static_cast<size_t>(n));
    }
    in_nghttp2_ = false;
    flush_output(bev_.get());
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_) &&
        evbuffer_get_length(out) == 0)
        close(false);
}

void H2UpstreamSession::close(bool failed_connect) {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    // Each stream, taken off the list first, tells its driver, which may
    // end its exchange (and free the stream) meanwhile.
    while (!streams_.empty()) {
        H2UpstreamStream* s = streams_.front();
        streams_.pop_front();
        s->session_lost(failed_connect);
    }
    if (bev_) bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    owner_.retire(this);
}

H2UpstreamStream* H2UpstreamSession::stream(int32_t id) {
    return static_cast<H2UpstreamStream*>(nghttp2_session_get_stream_user_data(session_, id));
}

// --- socket events ----------------------------------------------------------------------

void H2UpstreamSession::on_event(bufferevent* bev, short what, void* arg) {
    auto* self = static_cast<H2UpstreamSession*>(arg);
    if (self->state_ == State::kConnecting) {
        if (!(what & BEV_EVENT_CONNECTED)) {
            LOG_DEBUG("h2 server %s: connect failed: %s", self->server_->name().c_str(), stream_error(bev).c_str());
            return self->close(true);
        }
        if (self->tls_ && !self->alpn_h2()) return self->close(true);
        // The streams wait for the server's SETTINGS (its stream limit) before they are sent.
        self->state_ = State::kReady;
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        return self->send();
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->close(false);
}

bool H2UpstreamSession::alpn_h2() {
    const std::string_view alpn = negotiated_alpn(bufferevent_openssl_get_ssl(bev_.get()));
    if (alpn == "h2") return true;
    // The operator's mistake, not a passing failure: said at warning level.
    LOG_WARN("h2 server %s: TLS handshake selected ALPN \"%.*s\", not \"h2\": the server does not speak HTTP/2 "
             "over TLS (pool protocol SERVER_PROTOCOL_H2); connection failed",
             server_->name().c_str(), static_cast<int>(alpn.size()), alpn.data());
    return false;
}

void H2UpstreamSession::on_read(bufferevent* bev, void* arg) {
    auto* self = static_cast<H2UpstreamSession*>(arg);
    if (self->state_ != State::kReady) return;
    evbuffer* in = bufferevent_get_input(bev);
    self->in_nghttp2_ = true;
    while (evbuffer_get_length(in) > 0) {
        evbuffer_iovec vec{};
        if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1) break;
        const ssize_t n = nghttp2_session_mem_recv(self->session_, static_cast<const uint8_t*>(vec.iov_base),
                                                   vec.iov_len);
        if (n < 0) {
            self->in_nghttp2_ = false;
            LOG_DEBUG("h2 server %s: %s", self->server_->name().c_str(), nghttp2_strerror(static_cast<int>(n)));
            return self->close(false);
        }
        evbuffer_drain(in, static_cast<size_t>(n));
    }
    self->in_nghttp2_ = false;
    if (self->notify_pending_) self->notify_connected();
    if (self->state_ == State::kReady) self->send();
}

void H2UpstreamSession::notify_connected() {
    notify_pending_ = false;
    // Each waiting stream's driver goes on to send (it may end, and detach, meanwhile).
    std::vector<H2UpstreamStream*> waiting(streams_.begin(), streams_.end());
    for (H2UpstreamStream* s : waiting)
        if (std::find(streams_.begin(), streams_.end(), s) != streams_.end()) s->session_connected();
}

void H2UpstreamSession::on_write(bufferevent*, void* arg) { static_cast<H2UpstreamSession*>(arg)->send(); }

// --- nghttp2 callbacks ------------------------------------------------------------------

int H2UpstreamSession::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                                 const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<H2UpstreamSession*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (H2UpstreamStream* s = self->stream(frame->hd.stream_id))
        s->on_header({reinterpret_cast<const char*>(name), namelen}, {reinterpret_cast<const char*>(value), valuelen});
    return 0;
}

int H2UpstreamSession::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<H2UpstreamSession*>(user);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
            if (H2UpstreamStream* s = self->stream(frame->hd.stream_id)) s->on_headers_end(frame->headers.cat, end_stream);
            break;
        case NGHTTP2_DATA:
            if (end_stream)
                if (H2UpstreamStream* s = self->stream(frame->hd.stream_id)) s->on_data_end();
            break;
        case NGHTTP2_SETTINGS:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !self->settings_) {
                self->settings_ = true;
                self->notify_pending_ = true;
            }
            break;
        case NGHTTP2_GOAWAY:
            // No new streams here; nghttp2 closes those past last_stream_id
            // with REFUSED_STREAM (retried elsewhere), the others finish.
            self->goaway_ = true;
            break;
        default: break;
    }
    return 0;
}

int H2UpstreamSession::on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                                     void* user) {
    auto* self = static_cast<H2UpstreamSession*>(user);
    if (H2UpstreamStream* s = self->stream(id)) s->on_data(data, len);
    else nghttp2_session_consume(self->session_, id, len);  // nobody reads it
    return 0;
}

int H2UpstreamSession::on_stream_close(nghttp2_session*, int32_t id, uint32_t error, void* user) {
    auto* self = static_cast<H2UpstreamSession*>(user);
    if (H2UpstreamStream* s = self->stream(id)) s->on_close(error);
    return 0;
}

int H2UpstreamSession::on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* user) {
    auto* self = static_cast<H2UpstreamSession*>(user);
    // A request that never left (a GOAWAY came first): never seen by the server.
    if (frame->hd.type == NGHTTP2_HEADERS)
        if (H2UpstreamStream* s = self->stream(frame->hd.stream_id)) s->on_not_sent();
    return 0;
}

}  // namespace lbd::l7
