#include "l7/proxy_header_wait.h"

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/net/proxy_socket.h"
#include "l7/http_listener.h"
#include "l7/http_session.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

void ProxyHeaderWaits::accept(std::shared_ptr<HttpListener> listener, UniqueFd fd, const SocketAddress& peer) {
    auto entry = std::make_unique<Waiting>();
    Waiting& waiting = *entry;
    waiting.owner = this;
    waiting.listener = std::move(listener);
    waiting.fd = std::move(fd);
    waiting.peer = peer;
    const AcceptProxyConfig& accept = waiting.listener->config().accept_proxy;
    waiting.deadline_ms = monotonic_ms() + accept.header_timeout_ms;
    waiting_.push_front(std::move(entry));
    waiting.self = waiting_.begin();

    if (!accept.trusted_sources.empty()) {
        const SocketAddress source = peer.unmapped();
        bool trusted = false;
        for (const Cidr& cidr : accept.trusted_sources) trusted = trusted || cidr.contains(source);
        if (!trusted) return fail(waiting, Failure::kUntrusted, "source not in trusted_sources");
    }
    waiting.event = make_event(worker_.base(), waiting.fd.get(), EV_READ, &ProxyHeaderWaits::on_event, &waiting);
    try_read(waiting);  // the header often came with the handshake's last ACK
}

void ProxyHeaderWaits::on_event(evutil_socket_t, short what, void* arg) {
    auto& waiting = *static_cast<Waiting*>(arg);
    if (what & EV_READ) return waiting.owner->try_read(waiting);
    waiting.owner->fail(waiting, Failure::kTimeout, "no whole PROXY header in time");
}

void ProxyHeaderWaits::try_read(Waiting& waiting) {
    ProxyReadResult result = read_proxy_header(waiting.fd.get(), false);
    if (result.status == ProxyReadStatus::kInvalid) return fail(waiting, Failure::kInvalid, result.error);
    if (result.status == ProxyReadStatus::kWait) {
        const uint64_t now = monotonic_ms();
        if (now >= waiting.deadline_ms) return fail(waiting, Failure::kTimeout, "no whole PROXY header in time");
        const uint64_t left = waiting.deadline_ms - now;
        timeval tv{static_cast<time_t>(left / 1000), static_cast<suseconds_t>((left % 1000) * 1000)};
        event_add(waiting.event.get(), &tv);
        return;
    }
    // A LOCAL header (the balancer's own health check) or an UNSPEC family:
    // the connection's own endpoints stand.
    const SocketAddress client = result.header.local ? waiting.peer : result.header.source.unmapped();
    std::shared_ptr<HttpListener> listener = std::move(waiting.listener);
    UniqueFd fd = std::move(waiting.fd);
    erase(waiting);
    worker_.start_session(std::make_unique<HttpSession>(worker_, std::move(listener), std::move(fd), client));
}

void ProxyHeaderWaits::fail(Waiting& waiting, Failure why, const char* detail) {
    HttpListenerStats& stats = waiting.listener->stats();
    LOG_DEBUG("http listener=%s client=%s: connection closed: %s", waiting.listener->config().name.c_str(),
              waiting.peer.to_string().c_str(), detail);
    // Both counters move before the socket closes, the connection's end
    // first: a client that sees the close finds the failure counted, and a
    // scrape that sees the failure finds the connection no longer active.
    stats.active.fetch_sub(1, std::memory_order_acq_rel);
    std::atomic<uint64_t>& failures = why == Failure::kUntrusted ? stats.proxy_untrusted
                                      : why == Failure::kInvalid ? stats.proxy_header_invalid
                                                                 : stats.proxy_header_timeout;
    failures.fetch_add(1, std::memory_order_release);
    std::shared_ptr<HttpListener> listener = std::move(waiting.listener);
    erase(waiting);  // closes the socket
    listener->connection_closed();
}

void ProxyHeaderWaits::close_all() {
    while (!waiting_.empty()) {
        Waiting& waiting = *waiting_.front();
        std::shared_ptr<HttpListener> listener = std::move(waiting.listener);
        waiting_.pop_front();
        listener->stats().active.fetch_sub(1, std::memory_order_acq_rel);
        listener->connection_closed();
    }
}

}  // namespace lbd::l7
