#include "l4/splice_session.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/log.h"
#include "core/net/local_errors.h"
#include "core/health/passive_health.h"
#include "l4/l4_worker.h"
#include "core/net/proxy_socket.h"
#include "l4/l4_listener.h"

namespace lbd::l4 {

namespace {

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

bool is_transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// Closing with SO_LINGER {1, 0} sends RST instead of FIN: the peer learns the
// connection was aborted, instead of taking a truncated stream as complete.
void close_with_reset(UniqueFd& fd) {
    if (!fd) return;
    linger lin{1, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    fd.reset();
}

}  // namespace

SpliceSession::SpliceSession(L4Worker& worker, std::shared_ptr<L4Listener> listener, UniqueFd client_fd,
                             const SocketAddress& peer)
    : worker_(worker),
      listener_(std::move(listener)),
      pool_(listener_->pool()),
      peer_(peer),
      client_addr_(peer),
      start_ms_(monotonic_ms()) {
    client_.fd = std::move(client_fd);
    if (std::optional<SocketAddress> local = SocketAddress::local_of(client_.fd.get())) {
        dest_addr_ = local->unmapped();
        have_dest_ = true;
    }
}

SpliceSession::~SpliceSession() = default;

void SpliceSession::start() {
    timer_ = make_event(worker_.base(), -1, 0, &SpliceSession::on_timer, this);
    client_.event = make_event(worker_.base(), client_.fd.get(), EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST,
                               &SpliceSession::on_client_event, this);
    event_add(client_.event.get(), nullptr);

    const AcceptProxyConfig& accept = listener_->config().accept_proxy;
    if (!accept.enabled) return connect_next();

    if (!accept.trusted_sources.empty()) {
        bool trusted = false;
        for (const Cidr& cidr : accept.trusted_sources) trusted = trusted || cidr.contains(peer_);
        if (!trusted) return end(EndReason::kUntrustedSource);
    }
    state_ = State::kProxyHeader;
    arm_timer(timer_.get(), accept.header_timeout_ms);
    read_proxy_header();
}

// --- events ---------------------------------------------------------------

void SpliceSession::on_client_event(evutil_socket_t, short what, void* arg) {
    auto* self = static_cast<SpliceSession*>(arg);
    if (what & (EV_READ | EV_CLOSED)) self->client_.readable = true;
    if (what & EV_CLOSED) self->client_.peer_closed = true;
    if (what & EV_WRITE) self->client_.writable = true;
    switch (self->state_) {
        case State::kProxyHeader: return self->read_proxy_header();
        case State::kForwarding: return self->forward();
        default: return;  // client bytes wait in the socket until forwarding
    }
}

void SpliceSession::on_server_event(evutil_socket_t, short what, void* arg) {
    auto* self = static_cast<SpliceSession*>(arg);
    if (what & (EV_READ | EV_CLOSED)) self->server_.readable = true;
    if (what & EV_CLOSED) self->server_.peer_closed = true;
    if (what & EV_WRITE) self->server_.writable = true;
    switch (self->state_) {
        case State::kConnecting: {
            if (!(what & EV_WRITE) && !(what & EV_READ)) return;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(self->server_.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) return self->connect_failed(strerror(err));
            return self->connected();
        }
        case State::kSendingProxyHeader: return self->send_proxy_header();
        case State::kForwarding: return self->forward();
        default: return;
    }
}

void SpliceSession::on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<SpliceSession*>(arg);
    switch (self->state_) {
        case State::kProxyHeader: return self->end(EndReason::kProxyHeaderTimeout);
        case State::kConnecting:
        case State::kSendingProxyHeader: return self->connect_failed("connect timed out");
        case State::kForwarding: {
            // The timer is armed once per idle period, not on every byte: here
            // it checks how long it really has been and re-arms for the rest.
            uint64_t idle_ms = monotonic_ms() - self->last_activity_ms_;
            uint32_t limit = self->listener_->config().idle_timeout_ms;
            if (idle_ms >= limit) return self->end(EndReason::kIdleTimeout);
            return arm_timer(self->timer_.get(), static_cast<uint32_t>(limit - idle_ms));
        }
        default: return;
    }
}

// --- PROXY header from a load balancer in front -----------------------------

void SpliceSession::read_proxy_header() {
    // Exactly the header is consumed (core/net/proxy_socket.h); what
    // follows it (the client's own data) stays in the socket for splice().
    ProxyReadResult result = lbd::read_proxy_header(client_.fd.get(), client_.peer_closed);
    if (result.status == ProxyReadStatus::kWait) return;
    if (result.status == ProxyReadStatus::kInvalid) {
        LOG_DEBUG("listener %s: client %s: bad PROXY header: %s", listener_->config().name.c_str(),
                  peer_.to_string().c_str(), result.error);
        return end(EndReason::kProxyHeaderInvalid);
    }
    if (!result.header.local) {
        client_addr_ = result.header.source.unmapped();
        dest_addr_ = result.header.destination.unmapped();
        have_dest_ = true;
    }
    event_del(timer_.get());
    return connect_next();
}

// --- choosing and connecting to a server -----------------------------------

void SpliceSession::connect_next() {
    state_ = State::kConnecting;
    ServerPicker& picker = worker_.picker_for(*listener_);
    std::shared_ptr<Server> server;
    // A server can fill up between the pick and the slot (other workers);
    // then it is skipped like a full one, a bounded number of times.
    for (size_t attempt = 0; attempt <= picker.server_count(); ++attempt) {
        server = picker.pick(client_addr_, tried_);
        if (server == nullptr || server->try_acquire_slot()) break;
        tried_.push_back(server.get());
        server = nullptr;
    }
    if (server == nullptr) {
        if (!tried_.empty() && tried_.size() > pool_.config().retries) return end(EndReason::kConnectFailed);
        if (!picker.any_up()) return end(tried_.empty() ? EndReason::kNoServer : EndReason::kConnectFailed);
        // Every server was tried and refused the connect (a pool with no
        // more servers than `retries`): waiting for a slot would wait for
        // servers that are not full but failing.
        if (failed_connects_ > 0 && failed_connects_ == tried_.size()) return end(EndReason::kConnectFailed);
        // Every UP server is at max_connections: wait for a slot. A session
        // that left the queue and lost the race for the slot goes back in,
        // keeping the time it first queued so its timeout still holds.
        if (!worker_.enqueue(pool_, this)) return end(EndReason::kQueueFull);
        if (queued_since_ms_ == 0) queued_since_ms_ = monotonic_ms();
        state_ = State::kQueued;
        return;
    }
    server_choice_ = server;

    const SocketAddress& addr = server->address();
    server_ = Side{};
    server_.fd.reset(socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!server_.fd) {
        if (local_cause(errno)) return local_connect_failure(errno);
        LOG_WARN("pool %s: socket: %s", pool_.name().c_str(), strerror(errno));
        return end(EndReason::kInternalError);
    }
    int one = 1;
    setsockopt(server_.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    server_.event = make_event(worker_.base(), server_.fd.get(), EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST,
                               &SpliceSession::on_server_event, this);
    connect_start_ms_ = monotonic_ms();
    const bool started = connect(server_.fd.get(), addr.sockaddr_ptr(), addr.length()) == 0 || errno == EINPROGRESS;
    // Only connects that reached the network count as the server's: a local
    // shortage (no port, no buffer) never left this host.
    if (!started && local_cause(errno)) return local_connect_failure(errno);
    server->counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    if (!started) return connect_failed(strerror(errno));
    event_add(server_.event.get(), nullptr);
    arm_timer(timer_.get(), pool_.config().connect_timeout_ms);
}

void SpliceSession::leave_queue() {
    // The worker has already taken the session off its queue.
    state_ = State::kConnecting;
    connect_next();
}

bool SpliceSession::has_free_server() { return worker_.picker_for(*listener_).any_free(); }

void SpliceSession::local_connect_failure(int err) {
    uint64_t unlogged = 0;
    if (count_local_error(LocalWhere::kL4Connect, *local_cause(err), &unlogged)) {
        LOG_WARN("pool %s: cannot connect to %s: %s (lbd's own shortage, not the server's; %llu more not logged)",
                 pool_.name().c_str(), server_choice_->name().c_str(), strerror(err),
                 static_cast<unsigned long long>(unlogged));
    }
    server_.event.reset();
    server_.fd.reset();
    end(EndReason::kInternalError);
}

void SpliceSession::connect_failed(const char* why) {
    std::shared_ptr<Server> server = std::move(server_choice_);
    server_choice_ = nullptr;
    server->release_slot();
    server_.event.reset();
    server_.fd.reset();
    tried_.push_back(server.get());
    ++failed_connects_;

    server->counters.connect_failures.fetch_add(1, std::memory_order_relaxed);
    LOG_DEBUG("pool %s: connect to %s failed: %s", pool_.name().c_str(), server->name().c_str(), why);
    if (passive_connect_failure(*server, pool_.config(), why))
        worker_.schedule_revive(server, pool_.config().passive_health.ejection_ms);
    if (tried_.size() > pool_.config().retries) return end(EndReason::kConnectFailed);
    connect_next();
}

void SpliceSession::connected() {
    server_choice_->counters.connect_time.observe(monotonic_ms() - connect_start_ms_);
    ProxyProtocolVersion version = pool_.config().send_proxy;
    if (version == ProxyProtocolVersion::kNone) return start_forwarding();
    if (!have_dest_ || client_addr_.family() != dest_addr_.family()) {
        // Nothing truthful to say about addresses: LOCAL (v2) or UNKNOWN (v1).
        proxy_out_ = version == ProxyProtocolVersion::kV2 ? encode_proxy_v2_local() : "PROXY UNKNOWN\r\n";
    } else {
        proxy_out_ = version == ProxyProtocolVersion::kV2 ? encode_proxy_v2(client_addr_, dest_addr_)
                                                          : encode_proxy_v1(client_addr_, dest_addr_);
    }
    state_ = State::kSendingProxyHeader;
    send_proxy_header();
}

void SpliceSession::send_proxy_header() {
    while (proxy_sent_ < proxy_out_.size()) {
        ssize_t n = send(server_.fd.get(), proxy_out_.data() + proxy_sent_, proxy_out_.size() - proxy_sent_,
                         MSG_NOSIGNAL);
        if (n < 0 && is_transient(errno)) {
            server_.writable = false;
            return;
        }
        if (n < 0) return connect_failed(strerror(errno));
        proxy_sent_ += static_cast<size_t>(n);
    }
    start_forwarding();
}

// --- forwarding --------------------------------------------------------------

void SpliceSession::start_forwarding() {
    state_ = State::kForwarding;
    proxy_out_.clear();
    last_activity_ms_ = monotonic_ms();
    arm_timer(timer_.get(), listener_->config().idle_timeout_ms);
    forward();
}

void SpliceSession::forward() {
    PumpResult up = pump(upstream_, client_, server_);
    if (up == PumpResult::kSrcError) return end(EndReason::kClientReset);
    if (up == PumpResult::kDstError) return end(EndReason::kServerReset);
    PumpResult down = pump(downstream_, server_, client_);
    if (down == PumpResult::kSrcError) return end(EndReason::kServerReset);
    if (down == PumpResult::kDstError) return end(EndReason::kClientReset);
    if (upstream_.dst_shut && downstream_.dst_shut) return end(EndReason::kClosed);
}

SpliceSession::PumpResult SpliceSession::pump(Flow& flow, Side& src, Side& dst) {
    bool moved_any = false;
    for (;;) {
        bool progress = false;
        // Drain the pipe first: what is in it is already owed to dst.
        if (flow.in_pipe > 0 && dst.writable) {
            PumpResult r = pipe_to_dst(flow, dst, progress);
            if (r != PumpResult::kOk) return r;
        }
        if (!flow.src_eof && src.readable) {
            // Small bursts (requests, responses, interactive traffic) are
            // copied through the worker's buffer: recv + send is two syscalls
            // where splice needs three (in, out, and the EAGAIN that proves the
            // socket empty). Once a read fills the buffer the flow is a bulk
            // transfer and uses splice from then on: HAProxy's splice-auto.
            PumpResult r = (flow.in_pipe == 0 && !flow.bulk && dst.writable) ? copy_once(flow, src, dst, progress)
                                                                              : splice_in(flow, src, progress);
            if (r != PumpResult::kOk) return r;
        }
        if (!progress) break;
        moved_any = true;
    }
    if (moved_any) last_activity_ms_ = monotonic_ms();
    if (flow.src_eof && flow.in_pipe == 0 && !flow.dst_shut) {
        // Half-close: src said it is done; tell dst, keep the other way open.
        shutdown(dst.fd.get(), SHUT_WR);
        flow.dst_shut = true;
    }
    return PumpResult::kOk;
}

SpliceSession::PumpResult SpliceSession::pipe_to_dst(Flow& flow, Side& dst, bool& progress) {
    ssize_t n = splice(flow.pipe.read_fd, nullptr, dst.fd.get(), nullptr, flow.in_pipe, kSpliceFlags);
    if (n > 0) {
        flow.in_pipe -= static_cast<size_t>(n);
        flow.bytes += static_cast<uint64_t>(n);
        progress = true;
    } else if (n < 0 && is_transient(errno)) {
        dst.writable = false;
    } else {
        return PumpResult::kDstError;
    }
    return PumpResult::kOk;
}

SpliceSession::PumpResult SpliceSession::splice_in(Flow& flow, Side& src, bool& progress) {
    if (!flow.pipe && !worker_.pipes().acquire(flow.pipe)) return PumpResult::kSrcError;
    if (flow.bulk && !flow.grow_tried) {
        // A bulk flow moves up to 256 KiB per splice() from now on, if the
        // process has a grown pipe to spare (l4/pipe_pool.h); tried once.
        flow.grow_tried = true;
        worker_.pipes().grow(flow.pipe);
    }
    // Read only what the pipe can hold: back-pressure on src.
    if (flow.in_pipe >= flow.pipe.capacity) return PumpResult::kOk;
    ssize_t n =
        splice(src.fd.get(), nullptr, flow.pipe.write_fd, nullptr, flow.pipe.capacity - flow.in_pipe, kSpliceFlags);
    if (n > 0) {
        flow.in_pipe += static_cast<size_t>(n);
        progress = true;
    } else if (n == 0) {
        flow.src_eof = true;
        progress = true;
    } else if (is_transient(errno)) {
        // EAGAIN means "socket empty" or "pipe full" (a pipe holds a fixed
        // number of buffers, which small segments fill before its byte
        // capacity). With bytes still in the pipe it may be the latter, so
        // src stays marked readable and is tried again once the pipe
        // drains; an edge would never come for data already in the socket.
        if (flow.in_pipe == 0) src.readable = false;
    } else {
        return PumpResult::kSrcError;
    }
    return PumpResult::kOk;
}

SpliceSession::PumpResult SpliceSession::copy_once(Flow& flow, Side& src, Side& dst, bool& progress) {
    auto buffer = worker_.copy_buffer();
    ssize_t n = recv(src.fd.get(), buffer.data(), buffer.size(), 0);
    if (n == 0) {
        flow.src_eof = true;
        progress = true;
        return PumpResult::kOk;
    }
    if (n < 0) {
        if (!is_transient(errno)) return PumpResult::kSrcError;
        src.readable = false;
        return PumpResult::kOk;
    }
    progress = true;
    size_t got = static_cast<size_t>(n);
    // A short read on a stream socket emptied its receive queue: the next
    // byte to arrive raises a new edge, so no EAGAIN round trip is needed.
    // Not so for a FIN that came in with the data (one edge for both): with
    // EV_CLOSED seen, keep reading until recv() says 0.
    if (got == buffer.size()) flow.bulk = true;
    else if (!src.peer_closed) src.readable = false;

    ssize_t sent = send(dst.fd.get(), buffer.data(), got, MSG_NOSIGNAL);
    if (sent < 0) {
        if (!is_transient(errno)) return PumpResult::kDstError;
        sent = 0;
    }
    flow.bytes += static_cast<uint64_t>(sent);
    size_t rest = got - static_cast<size_t>(sent);
    if (rest == 0) return PumpResult::kOk;
    // dst is full: park the rest in the (empty) pipe, which takes it whole
    // since the buffer is smaller than a pipe; it leaves with the next
    // pipe_to_dst() once dst is writable again.
    dst.writable = false;
    if (!flow.pipe && !worker_.pipes().acquire(flow.pipe)) return PumpResult::kSrcError;
    ssize_t parked = write(flow.pipe.write_fd, buffer.data() + sent, rest);
    if (parked != static_cast<ssize_t>(rest)) return PumpResult::kSrcError;
    flow.in_pipe += rest;
    return PumpResult::kOk;
}

// --- the end -----------------------------------------------------------------

void SpliceSession::end(EndReason reason) {
    if (state_ == State::kEnded) return;
    if (state_ == State::kQueued) worker_.dequeue(pool_, this);
    state_ = State::kEnded;

    timer_.reset();
    client_.event.reset();
    server_.event.reset();
    if (reason == EndReason::kClientReset) close_with_reset(server_.fd);
    if (reason == EndReason::kServerReset) close_with_reset(client_.fd);
    if (reason == EndReason::kIdleTimeout || reason == EndReason::kDrainTimeout) {
        close_with_reset(client_.fd);
        close_with_reset(server_.fd);
    }
    client_.fd.reset();
    server_.fd.reset();
    worker_.pipes().release(upstream_.pipe, upstream_.in_pipe == 0);
    worker_.pipes().release(downstream_.pipe, downstream_.in_pipe == 0);

    bool had_server = server_choice_ != nullptr;
    if (Server* server = server_choice_.get()) {
        server->counters.bytes_to_server.fetch_add(upstream_.bytes, std::memory_order_relaxed);
        server->counters.bytes_from_server.fetch_add(downstream_.bytes, std::memory_order_relaxed);
        server->release_slot();
    }
    listener_->stats().ended[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
    listener_->stats().active.fetch_sub(1, std::memory_order_acq_rel);
    listener_->stats().duration.observe(monotonic_ms() - start_ms_);
    // Every count (the worker's open connections too) before the log line:
    // whoever reads the line, a test among them, then sees them updated.
    listener_->connection_closed();
    log_end(reason);
    // Destroys this session: nothing may touch `this` afterwards.
    worker_.session_ended(this, &pool_, had_server);
}

void SpliceSession::log_end(EndReason reason) {
    if (!worker_.global().log_connections) return;
    std::string server = "-";
    if (server_choice_ != nullptr) server = pool_.name() + "/" + server_choice_->name();
    LOG_INFO("l4 listener=%s client=%s server=%s up=%llu down=%llu duration_ms=%llu end=%s",
             listener_->config().name.c_str(), client_addr_.to_string().c_str(), server.c_str(),
             static_cast<unsigned long long>(upstream_.bytes), static_cast<unsigned long long>(downstream_.bytes),
             static_cast<unsigned long long>(monotonic_ms() - start_ms_), to_string(reason));
}

}  // namespace lbd::l4
