// The peer-sync link: sockets, timers and the connection life cycle (the
// machine is drawn in sync_link.h; what flows on a connection is in
// sync_link_protocol.cc, and what the peer sent is applied in sync_link_receive.cc).
//
// bufferevents rather than plain events: the link needs exactly what they
// give, an output buffer whose length is the back-pressure signal and a
// callback when it drains below a mark, plus non-blocking connect with the
// error reported through one event callback. Reads are drained whole into
// the FrameReader, so the input buffer never holds more than one read.
#include "ha/sync_link.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/base/log.h"
#include "core/net/tcp_socket.h"
#include "ha/sync_link_impl.h"

namespace lbd::ha {
namespace {

using Impl = SyncLink::Impl;

// Bytes per read(2): large reads keep a snapshot transfer cheap; one read's
// worth of frames is processed per callback, so other events still run.
constexpr size_t kMaxSingleRead = 256 * 1024;
constexpr size_t kMaxSingleWrite = 1024 * 1024;
constexpr int kListenBacklog = 16;

bool is_wildcard(const SocketAddress& address) {
    std::string_view bytes = address.ip_bytes();
    return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool same_ip(const SocketAddress& a, const SocketAddress& b) {
    SocketAddress ua = a.unmapped(), ub = b.unmapped();
    return ua.family() == ub.family() && ua.ip_bytes() == ub.ip_bytes();
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

std::string printable(std::string_view text, size_t max) {
    std::string out;
    for (char c : text.substr(0, max)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (text.size() > max) out += "...";
    return out;
}

// --- public API ----------------------------------------------------------------

SyncLink::SyncLink(event_base* base, Options options, SyncState& state, Observer& observer)
    : impl_(std::make_unique<Impl>(base, std::move(options), state, observer)) {}
SyncLink::~SyncLink() = default;

bool SyncLink::start(std::string* error) { return impl_->start(error); }

void SyncLink::reconnect(const char* why) {
    Impl& impl = *impl_;
    if (!impl.started_) return;
    impl.backoff_ms_ = kDialBackoffStartMs;
    if (impl.conn_) {
        impl.close(impl.conn_.get(), why, Impl::Backoff::kNormal);
    } else {
        impl.schedule_dial(0);  // also cuts a 5 s wait after a refusal short
    }
}

SyncLink::Stats SyncLink::stats() const {
    const Impl& impl = *impl_;
    Stats out = impl.stats_;
    uint64_t now = monotonic_ms();
    const Impl::Connection* c = impl.conn_.get();
    out.connected = c != nullptr && c->phase == Impl::Phase::kUp;
    out.dials = impl.dials_;
    out.peer_node_id = out.connected ? c->peer_node : std::string();
    out.last_heard_ms_ago = impl.last_heard_ms_ == 0 ? UINT64_MAX : now - std::min(now, impl.last_heard_ms_);
    out.synced_with_peer = impl.state_.synced_with_peer();
    out.queued = impl.state_.queued();
    out.output_bytes = c != nullptr ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
    out.unacked_oldest_ms = impl.marks_.empty() ? 0 : now - std::min(now, impl.marks_.front().at_ms);
    return out;
}

bool SyncLink::all_acked() const { return impl_->all_acked(); }

bool SyncLink::dials_peer(const SocketAddress& listen, const SocketAddress& peer) {
    SocketAddress a = listen.unmapped(), b = peer.unmapped();
    if (a.family() != b.family()) return a.family() < b.family();
    if (int c = a.ip_bytes().compare(b.ip_bytes()); c != 0) return c < 0;
    return a.port() < b.port();
}

// --- life cycle ----------------------------------------------------------------

Impl::Connection::~Connection() {
    if (bev != nullptr) bufferevent_free(bev);
}

std::string Impl::Connection::name() const {
    if (peer_node.empty()) return remote.to_string();
    return peer_node + " (" + remote.to_string() + ")";
}

Impl::Impl(event_base* base, Options options, SyncState& state, Observer& observer)
    : base_(base), options_(std::move(options)), state_(state), observer_(observer) {
    dials_ = SyncLink::dials_peer(options_.listen, options_.peer);
    uint32_t heartbeat = std::max<uint32_t>(options_.heartbeat_ms, 1);
    handshake_ms_ = 3 * heartbeat;
    // A tick often enough that heartbeats and dead-peer checks are at most a
    // quarter interval late.
    tick_ms_ = std::clamp<uint32_t>(heartbeat / 4, 5, 250);
}

Impl::~Impl() {
    // No Observer calls: its owner is tearing down.
    candidate_.reset();
    conn_.reset();
    graveyard_.clear();
}

bool Impl::start(std::string* error) {
    if (started_) return true;
    if (options_.shared_key.size() < kMinSharedKeyBytes) {
        *error = "sync key is shorter than " + std::to_string(kMinSharedKeyBytes) + " bytes";
        return false;
    }
    if (options_.listen.family() == AF_UNSPEC || options_.peer.family() == AF_UNSPEC) {
        *error = "sync listen or peer address is not set";
        return false;
    }
    // Who dials is decided by comparing the two addresses: a wildcard would
    // compare differently on the two nodes, and no source IP would match it.
    if (is_wildcard(options_.listen) || is_wildcard(options_.peer)) {
        *error = "sync listen and peer must be the nodes' own addresses, not a wildcard";
        return false;
    }
    if (options_.listen == options_.peer) {
        *error = "sync listen and peer are the same address " + options_.listen.to_string();
        return false;
    }
    int err = 0;
    UniqueFd fd = bind_tcp_socket(options_.listen, false, false, &err);
    if (!fd || ::listen(fd.get(), kListenBacklog) != 0) {
        if (fd) err = errno;
        *error = "sync listen " + options_.listen.to_string() + ": " + std::strerror(err);
        return false;
    }
    listen_fd_ = std::move(fd);
    accept_event_ = make_event(
        base_, listen_fd_.get(), EV_READ | EV_PERSIST,
        [](evutil_socket_t fd, short, void* arg) { static_cast<Impl*>(arg)->accept_ready(fd); }, this);
    event_add(accept_event_.get(), nullptr);
    accept_pause_ = make_event(
        base_, -1, 0, [](evutil_socket_t, short, void* arg) {
            auto* self = static_cast<Impl*>(arg);
            event_add(self->accept_event_.get(), nullptr);
        }, this);
    dial_timer_ = make_event(
        base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->dial(); }, this);
    tick_timer_ = make_event(
        base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->tick(); }, this);
    flush_event_ = make_event(
        base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->flush(); }, this);
    apply_timer_ = make_event(
        base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->resume_inbound(); }, this);
    reap_event_ = make_event(
        base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->graveyard_.clear(); }, this);
    timeval tick{static_cast<time_t>(tick_ms_ / 1000), static_cast<suseconds_t>((tick_ms_ % 1000) * 1000)};
    event_add(tick_timer_.get(), &tick);
    last_tick_ms_ = monotonic_ms();
    started_ = true;
    LOG_INFO("peer sync: listening on %s; %s %s", options_.listen.to_string().c_str(),
             dials_ ? "dialing the peer at" : "accepting the peer from", options_.peer.to_string().c_str());
    if (dials_) schedule_dial(0);
    return true;
}

void Impl::schedule_dial(uint32_t delay_ms) {
    if (dials_ && dial_timer_) arm_timer(dial_timer_.get(), delay_ms);
}

void Impl::schedule_flush() {
    if (flush_event_ && conn_ && conn_->phase == Phase::kUp) event_active(flush_event_.get(), 0, 0);
}

void Impl::dial() {
    if (conn_) return;
    const SocketAddress& peer = options_.peer;
    UniqueFd fd(socket(peer.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    auto fail = [&](const char* what) {
        LOG_WARN("peer sync: %s for %s: %s", what, peer.to_string().c_str(), std::strerror(errno));
        schedule_dial(kDialBackoffMaxMs);
    };
    if (!fd) return fail("socket");
    set_nodelay(fd.get());
    // From our own sync address, which is what the peer expects to see.
    if (options_.listen.family() == peer.family()) {
        int one = 1;
        setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        SocketAddress source = options_.listen;
        source.set_port(0);
        if (bind(fd.get(), source.sockaddr_ptr(), source.length()) != 0) return fail("bind source address");
    }
    bufferevent* bev = bufferevent_socket_new(base_, fd.release(), BEV_OPT_CLOSE_ON_FREE);
    if (bev == nullptr) return fail("bufferevent_socket_new");
    Connection* c = adopt(bev, Role::kDialer, peer, conn_);
    // A refused connect is reported through on_event; -1 means it could
    // not even start.
    if (bufferevent_socket_connect(bev, peer.sockaddr_ptr(), static_cast<int>(peer.length())) != 0) {
        close(c, std::string("connect: ") + std::strerror(errno), Backoff::kNormal);
    }
}

Impl::Connection* Impl::adopt(bufferevent* bev, Role role, const SocketAddress& remote,
                              std::unique_ptr<Connection>& slot) {
    auto c = std::make_unique<Connection>();
    c->link = this;
    c->bev = bev;
    c->role = role;
    c->remote = remote;
    c->last_heard_ms = c->last_sent_ms = monotonic_ms();
    c->deadline_ms = c->last_heard_ms + handshake_ms_;
    bufferevent_set_max_single_read(bev, kMaxSingleRead);
    bufferevent_set_max_single_write(bev, kMaxSingleWrite);
    bufferevent_setwatermark(bev, EV_WRITE, kOutputLowWater, 0);
    bufferevent_setcb(
        bev, [](bufferevent*, void* arg) {
            auto* c = static_cast<Connection*>(arg);
            c->link->on_readable(c);
        },
        [](bufferevent*, void* arg) {
            auto* c = static_cast<Connection*>(arg);
            c->link->on_written(c);
        },
        [](bufferevent*, short what, void* arg) {
            auto* c = static_cast<Connection*>(arg);
            c->link->on_event(c, what);
        },
        c.get());
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    slot = std::move(c);
    return slot.get();
}

void Impl::accept_ready(int listen_fd) {
    for (;;) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accepted(UniqueFd(fd), SocketAddress(reinterpret_cast<sockaddr*>(&ss), len).unmapped());
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // Out of descriptors or memory: the level-triggered accept event would
        // spin on the pending connection, so pause it.
        LOG_WARN("peer sync: accept on %s: %s; pausing 100 ms", options_.listen.to_string().c_str(),
                 std::strerror(errno));
        event_del(accept_event_.get());
        arm_timer(accept_pause_.get(), 100);
        return;
    }
}

void Impl::reject(const SocketAddress& from, const char* why) {
    ++stats_.rejected_connections;
    // Anyone on the LAN can connect: at most one line per second.
    uint64_t now = monotonic_ms();
    if (last_reject_log_ms_ != 0 && now - last_reject_log_ms_ < 1000) {
        ++rejects_unlogged_;
        return;
    }
    LOG_WARN("peer sync: closed a connection from %s: %s (%llu more not logged)", from.to_string().c_str(), why,
             static_cast<unsigned long long>(rejects_unlogged_));
    last_reject_log_ms_ = now;
    rejects_unlogged_ = 0;
}

void Impl::accepted(UniqueFd fd, const SocketAddress& from) {
    if (dials_) return reject(from, "this node dials its peer, it accepts no connection (is the peer's sync.peer "
                                    "this node's sync.listen?)");
    if (!same_ip(from, options_.peer)) return reject(from, "not the configured sync peer's address");
    set_nodelay(fd.get());
    bufferevent* bev = bufferevent_socket_new(base_, fd.get(), BEV_OPT_CLOSE_ON_FREE);
    if (bev == nullptr) return reject(from, "out of memory");
    fd.release();
    if (conn_ && conn_->phase == Phase::kUp) {
        // Kept until the newcomer proves the key (candidate_ says why).
        if (candidate_) close(candidate_.get(), "a newer connection from the peer's address", Backoff::kNormal);
        return on_connected(adopt(bev, Role::kListener, from, candidate_));
    }
    // Not authenticated yet: nothing to protect, the newer one wins.
    if (conn_) close(conn_.get(), "the peer connected again (restarted?); replacing the connection", Backoff::kNormal);
    on_connected(adopt(bev, Role::kListener, from, conn_));
}

void Impl::promote_candidate() {
    if (conn_) {
        close(conn_.get(), "the peer connected again and proved the key (restarted?); replacing the connection",
              Backoff::kNormal);
    }
    conn_ = std::move(candidate_);
}

void Impl::on_event(Connection* c, short what) {
    if (c->closed) return;
    if (what & BEV_EVENT_CONNECTED) return on_connected(c);
    if (c->phase == Phase::kClosing) return close(c, c->close_why, c->close_backoff);
    if (what & BEV_EVENT_EOF) return close(c, "the peer closed the connection", Backoff::kNormal);
    int err = EVUTIL_SOCKET_ERROR();
    std::string why = c->phase == Phase::kConnecting ? "connect: " : "";
    close(c, why + (err != 0 ? std::strerror(err) : "connection error"), Backoff::kNormal);
}

void Impl::on_written(Connection* c) {
    if (c->closed) return;
    if (c->phase == Phase::kUp) return schedule_flush();
    // Our Refusal is out: half-close so the peer reads it, then its EOF.
    if (c->phase == Phase::kClosing && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    }
}

void Impl::tick() {
    uint64_t now = monotonic_ms();
    uint64_t gap = now - std::min(now, last_tick_ms_);
    last_tick_ms_ = now;
    // A full sweep of the stick records about every kExpireEveryMs, a slice
    // per tick (SyncState::expire_step says why).
    state_.expire_step(now, state_.stick_buckets() * tick_ms_ / kExpireEveryMs + 1);
    if (candidate_ && now >= candidate_->deadline_ms) {
        Connection* k = candidate_.get();
        std::string why = k->phase == Phase::kClosing ? k->close_why
                                                      : "no handshake within " + std::to_string(handshake_ms_) + " ms";
        close(k, why, Backoff::kNormal);
    }
    Connection* c = conn_.get();
    if (c == nullptr) return;
    // Our own loop was stalled (a big snapshot, a slow disk write): the time
    // we could not listen is not the peer's silence.
    if (gap > tick_ms_ + options_.heartbeat_ms / 2) {
        uint64_t stalled = gap - tick_ms_;
        c->last_heard_ms = std::min(now, c->last_heard_ms + stalled);
        c->deadline_ms += stalled;
        // Our heartbeats were as late: said, so that a drop the peer reports can be told apart.
        if (stalled >= options_.heartbeat_ms) {
            LOG_INFO("peer sync: this node's loop ran %llu ms late (heartbeats too)",
                     static_cast<unsigned long long>(stalled));
        }
    }
    // Reads paused while a received chunk is applied: the peer's frames are
    // waiting on us, which is not its silence.
    if (c->reads_paused) c->last_heard_ms = now;
    switch (c->phase) {
        case Phase::kConnecting:
        case Phase::kPreamble:
        case Phase::kHello:
            if (now >= c->deadline_ms) {
                close(c, "no handshake within " + std::to_string(handshake_ms_) + " ms", Backoff::kNormal);
            }
            return;
        case Phase::kUp:
            if (c->heard_since_hello ? link_dead(now, c->last_heard_ms, options_.heartbeat_ms)
                                     : now - c->last_heard_ms > std::max(handshake_ms_, kFirstFrameGraceMs)) {
                close(c, "nothing heard for " + std::to_string(now - c->last_heard_ms) + " ms", Backoff::kNormal);
            } else if (now - c->last_sent_ms >= options_.heartbeat_ms) {
                heartbeat(c);
            }
            return;
        case Phase::kClosing:
            if (now >= c->deadline_ms) close(c, c->close_why, c->close_backoff);
            return;
    }
}

void Impl::link_down(Connection* c, const std::string& why) {
    if (c->phase != Phase::kUp) return;
    c->phase = Phase::kClosing;  // until close() finishes, no longer up
    LOG_INFO("peer sync: link down with %s: %s", c->name().c_str(), why.c_str());
    observer_.link_changed(false, std::string());
}

void Impl::close(Connection* c, const std::string& why, Backoff backoff) {
    if (c->closed) return;
    if (c == candidate_.get()) {
        // The live link is not this one's business: no link change, no redial.
        c->closed = true;
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        LOG_WARN("peer sync: a new connection from %s closed before it proved the key: %s (the live link stays)",
                 c->remote.to_string().c_str(), why.c_str());
        graveyard_.push_back(std::move(candidate_));
        event_active(reap_event_.get(), 0, 0);
        return;
    }
    if (c != conn_.get()) return;
    bool was_up = c->phase == Phase::kUp;
    bool established = c->phase != Phase::kConnecting;
    bool lingering = c->phase == Phase::kClosing;
    c->closed = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (established) ++stats_.disconnects;
    if (was_up) {
        link_down(c, why);
    } else if (!lingering) {
        // A failed attempt: log when the reason changes, not every retry.
        if (why != last_failure_) {
            LOG_WARN("peer sync: connection with %s failed: %s%s", c->name().c_str(), why.c_str(),
                     dials_ ? " (retrying)" : "");
        } else {
            LOG_DEBUG("peer sync: connection with %s failed: %s", c->name().c_str(), why.c_str());
        }
        last_failure_ = why;
    }
    // Freed on the next loop turn: a caller up the stack may still hold `c`.
    graveyard_.push_back(std::move(conn_));
    event_active(reap_event_.get(), 0, 0);

    if (was_up) backoff_ms_ = kDialBackoffStartMs;
    uint32_t delay = backoff == Backoff::kLong ? kRefusedBackoffMs : backoff_ms_;
    if (backoff == Backoff::kNormal && !was_up) backoff_ms_ = std::min(backoff_ms_ * 2, kDialBackoffMaxMs);
    schedule_dial(delay);
}

void Impl::begin_closing(Connection* c, std::string why, Backoff backoff) {
    if (c->closed) return;
    link_down(c, why);
    c->phase = Phase::kClosing;
    c->close_why = std::move(why);
    c->close_backoff = backoff;
    c->deadline_ms = monotonic_ms() + kClosingLingerMs;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) on_written(c);
}

}  // namespace lbd::ha
