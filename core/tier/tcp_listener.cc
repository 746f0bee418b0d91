#include "core/tier/tcp_listener.h"

#include <algorithm>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/config/config_loader.h"
#include "core/net/local_errors.h"
#include "core/base/log.h"
#include "core/net/syn_filter.h"
#include "core/net/tcp_socket.h"

namespace lbd {

namespace {

// Accepting too many connections in one callback starves established
// connections on the same worker; the rest wait for the next loop turn.
constexpr int kAcceptBatch = 64;
// A TLS listener takes one connection per loop turn, as NGINX does: each
// costs a key exchange (~0.3 ms, the work of some 30 plain requests), which
// the session starts at once. 64 of them in one callback held up the
// requests of connections already open: bench/l7.sh tls_new, 9 rounds, same
// req/s (2,216 / 2,207) but p50 1.9 ms and p99 10.0 against 15.6 and 24.6.
constexpr int kTlsAcceptBatch = 1;
// Paused because of max_connections or fd exhaustion: check again after.
constexpr uint32_t kResumeCheckMs = 50;
constexpr uint32_t kFdExhaustedPauseMs = 200;

}  // namespace

UniqueFd open_listen_socket(const ListenerConfig& config, const SocketAddress& address, std::string* error) {
    int err = 0;
    // One socket per worker on the same address; the kernel balances accepts.
    UniqueFd fd = bind_tcp_socket(address, /*reuseport=*/true, config.freebind, &err);
    if (!fd) {
        *error = "bind " + address.to_string() + ": " + strerror(err);
        return {};
    }
    if (listen(fd.get(), static_cast<int>(config.backlog)) != 0) {
        *error = "listen " + address.to_string() + ": " + strerror(errno);
        return {};
    }
    return fd;
}

bool open_listener_sockets(const ListenerConfig& config, size_t count, std::vector<UniqueFd>& fds,
                           SocketAddress& bound, std::string* error) {
    SocketAddress address = config.bind;
    if (address.port() != 0) {
        if (int err = probe_exclusive_bind(address, config.freebind); err != 0) {
            *error = "listener " + config.name + ": " + address.to_string() + ": " +
                     (err == EADDRINUSE ? "address already in use (another lbd?)" : strerror(err));
            return false;
        }
    }
    for (size_t i = 0; i < count; ++i) {
        std::string why;
        UniqueFd fd = open_listen_socket(config, address, &why);
        if (!fd) {
            *error = "listener " + config.name + ": " + why;
            return false;
        }
        if (address.port() == 0) {
            // Port 0: the kernel chose one; the other workers join it.
            if (std::optional<SocketAddress> local = SocketAddress::local_of(fd.get())) address = *local;
        }
        fds.push_back(std::move(fd));
    }
    bound = address;
    return true;
}

bool plan_listener_sockets(const ListenerConfig& config, const Config* current, size_t workers,
                           ListenerSockets& plan, std::string* error) {
    plan.config = &config;
    plan.kept = current != nullptr &&
                std::any_of(current->listeners.begin(), current->listeners.end(), [&](const ListenerConfig& cur) {
                    return cur.name == config.name && cur.bind == config.bind && cur.mode == config.mode;
                });
    return plan.kept || open_listener_sockets(config, workers, plan.fds, plan.bound, error);
}

UniqueFd ListenerSockets::take(size_t worker, UniqueFd released) {
    if (!kept) return std::move(fds[worker]);
    if (released) listen(released.get(), static_cast<int>(config->backlog));
    return released;
}

TcpListener::TcpListener(event_base* base, const ListenerConfig& config, std::atomic<uint64_t>& accepted,
                         std::atomic<uint32_t>& active, UniqueFd fd, AcceptSpread spread, AcceptFn on_accept)
    : config_(config),
      accepted_(accepted),
      active_(active),
      fd_(std::move(fd)),
      spread_(std::move(spread)),
      on_accept_(std::move(on_accept)) {
    accept_event_ = make_event(base, fd_.get(), EV_READ | EV_PERSIST, &TcpListener::on_acceptable, this);
    resume_timer_ = make_event(base, -1, 0, &TcpListener::on_resume, this);
}

TcpListener::~TcpListener() = default;

void TcpListener::start() { event_add(accept_event_.get(), nullptr); }

void TcpListener::stop() {
    accept_event_.reset();
    resume_timer_.reset();
    fd_.reset();
}

void TcpListener::drop_syns_to(const std::vector<std::string>& addresses) {
    std::string error;
    if (fd_ && !set_syn_drop_filter(fd_.get(), addresses, &error))
        LOG_ERROR("listener %s: cannot %s the handover's SYN filter: %s", config_.name.c_str(),
                  addresses.empty() ? "remove" : "attach", error.c_str());
}

UniqueFd TcpListener::release_fd() {
    accept_event_.reset();
    resume_timer_.reset();
    return std::move(fd_);
}

void TcpListener::on_acceptable(evutil_socket_t, short, void* arg) { static_cast<TcpListener*>(arg)->accept_some(); }

void TcpListener::on_resume(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<TcpListener*>(arg);
    if (!self->accept_event_) return;
    self->paused_ = false;
    event_add(self->accept_event_.get(), nullptr);
    self->accept_some();
}

void TcpListener::pause(uint32_t ms) {
    if (!paused_) event_del(accept_event_.get());
    paused_ = true;
    arm_timer(resume_timer_.get(), ms);
}

void TcpListener::connection_closed() {
    spread_.spread.closed(spread_.worker);
    if (paused_ && accept_event_) {
        event_del(resume_timer_.get());
        on_resume(-1, 0, this);
    }
}

// Takes one of the listener's max_connections before accept(), so that
// workers racing for the last slot cannot overshoot it.
bool TcpListener::reserve_slot() {
    uint32_t limit = config_.max_connections;
    uint32_t active = active_.fetch_add(1, std::memory_order_acq_rel);
    if (limit == 0 || active < limit) return true;
    active_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
}

void TcpListener::accept_some() {
    const int batch = config_.tls.enabled ? kTlsAcceptBatch : kAcceptBatch;
    for (int i = 0; i < batch && fd_; ++i) {
        if (!reserve_slot()) {
            // Full: new connections wait in the kernel's accept queue (the
            // bounded queue is `backlog`) until a connection ends.
            return pause(kResumeCheckMs);
        }
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        int fd = accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            active_.fetch_sub(1, std::memory_order_acq_rel);
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
            if (std::optional<LocalCause> cause = local_cause(errno)) {
                // Paused 5 times a second while it lasts: one line a second.
                uint64_t unlogged = 0;
                if (count_local_error(LocalWhere::kAccept, *cause, &unlogged)) {
                    LOG_WARN("listener %s: accept: %s; pausing %u ms (%llu more not logged)", config_.name.c_str(),
                             strerror(errno), kFdExhaustedPauseMs, static_cast<unsigned long long>(unlogged));
                }
                return pause(kFdExhaustedPauseMs);
            }
            LOG_WARN("listener %s: accept: %s", config_.name.c_str(), strerror(errno));
            return;
        }
        if (fd_in_reserve(fd)) {
            // Clients may not take the descriptors kept for health checks,
            // the admin plane and the sync link (local_errors.h).
            ::close(fd);
            active_.fetch_sub(1, std::memory_order_acq_rel);
            uint64_t unlogged = 0;
            if (count_local_error(LocalWhere::kAccept, LocalCause::kFdReserve, &unlogged)) {
                LOG_WARN("listener %s: closed a new connection: descriptors are down to the reserve; pausing %u ms "
                         "(%llu more not logged)",
                         config_.name.c_str(), kFdExhaustedPauseMs, static_cast<unsigned long long>(unlogged));
            }
            return pause(kFdExhaustedPauseMs);
        }
        accepted_.fetch_add(1, std::memory_order_relaxed);
        SocketAddress peer_addr(reinterpret_cast<sockaddr*>(&peer), len);
        const size_t to = spread_.spread.place(spread_.worker);
        if (to != spread_.worker) {
            spread_.hand_off(to, UniqueFd(fd), peer_addr.unmapped());
            continue;
        }
        // The callback may start a session that ends at once; the loop only
        // reads members of this listener afterwards, which it owns.
        on_accept_(UniqueFd(fd), peer_addr.unmapped());
    }
}

}  // namespace lbd
