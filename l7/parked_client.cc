#include "l7/parked_client.h"

#include <cstring>

#include "l7/http_listener.h"
#include "l7/http_session.h"
#include "l7/l7_worker.h"
#include "l7/transport.h"

namespace lbd::l7 {

bool ParkedClient::set_peer(const SocketAddress& address) {
    if (address.length() > sizeof peer) return false;
    std::memcpy(&peer, address.sockaddr_ptr(), address.length());
    peer_length = static_cast<uint8_t>(address.length());
    return true;
}

SocketAddress ParkedClient::peer_address() const {
    return SocketAddress(reinterpret_cast<const sockaddr*>(&peer), peer_length);
}

ParkedClient& ParkedClients::park(ParkedClient client, uint32_t keep_alive_ms) {
    const int fd = client.fd.get();
    if (by_fd_.size() <= static_cast<size_t>(fd)) by_fd_.resize(fd + 1);
    auto& slot = by_fd_[fd];
    slot = std::make_unique<Entry>();
    Entry& entry = *slot;
    entry.client = std::move(client);
    ++count_;
    entry.client.listener->stats().parked.fetch_add(1, std::memory_order_relaxed);
    // Persistent: a one-shot event is deleted from epoll when it fires, and
    // the resumed session would add it back (two epoll_ctl per request).
    event_assign(&entry.ev, base_, fd, EV_READ | EV_PERSIST, &ParkedClients::on_event, this);
    arm_timer(&entry.ev, keep_alive_ms);
    return entry.client;
}

void ParkedClients::on_event(evutil_socket_t fd, short what, void* arg) {
    auto& self = *static_cast<ParkedClients*>(arg);
    const bool expired = (what & EV_TIMEOUT) != 0;
    // HTTP/2 says GOAWAY before it closes: its session does.
    if (expired && !self.by_fd_[fd]->client.h2) return self.close(fd);
    self.wake(static_cast<int>(fd), expired);
}

void ParkedClients::wake(int fd, bool expired) {
    std::unique_ptr<Entry> entry = std::move(by_fd_[fd]);
    --count_;
    entry->client.listener->stats().parked.fetch_sub(1, std::memory_order_relaxed);
    // The next request, or EOF: the new session reads it. Its read event is
    // on before ours goes (see the header), and it reads only once ours is
    // gone, since reading may end the session and close the socket.
    HttpSession* session = worker_.resume_session(std::move(entry->client));
    event_del(&entry->ev);
    entry.reset();
    if (expired) session->expire_idle();
    else session->read_waiting();
}

void ParkedClients::wake_h2() {
    // By index: a woken session's GOAWAY may close it, which tells the listener.
    for (size_t fd = 0; fd < by_fd_.size() && count_ != 0; ++fd)
        if (by_fd_[fd] && by_fd_[fd]->client.h2) wake(static_cast<int>(fd), false);
}

void ParkedClients::drain() {
    // The woken sessions see the worker draining (HttpSession::resume_h2).
    wake_h2();
    close_all();
}

void ParkedClients::close(int fd) {
    std::unique_ptr<Entry> entry = std::move(by_fd_[fd]);
    --count_;
    event_del(&entry->ev);
    if (entry->client.ssl) {
        // close_notify, as a session closed idle sends (HttpSession::close):
        // the client's TLS session stays resumable. The SSL writes only
        // through a stream: one for the alert, freed at once with the socket.
        ClientStream stream = resume_client_stream(base_, std::move(entry->client.fd), std::move(entry->client.ssl));
        close_notify(stream);
    }
    // A FIN, as for a session closed idle.
    entry->client.fd.reset();
    if (std::shared_ptr<HttpListener> listener = std::move(entry->client.listener)) {
        listener->stats().parked.fetch_sub(1, std::memory_order_relaxed);
        listener->stats().active.fetch_sub(1, std::memory_order_acq_rel);
        listener->connection_closed();
    }
}

void ParkedClients::expire_for_handover() {
    wake_h2();
    for (const auto& entry : by_fd_) {
        if (!entry) continue;
        const uint32_t keep_alive = entry->client.listener->http().timeouts.client_keep_alive_ms;
        arm_timer(&entry->ev, worker_.handover_idle_left_ms(entry->client.idle_since_ms, keep_alive));
    }
}

void ParkedClients::close_all() {
    // By index: closing tells the listener, and a slot's entry goes before that.
    for (size_t fd = 0; fd < by_fd_.size() && count_ != 0; ++fd)
        if (by_fd_[fd]) close(static_cast<int>(fd));
}

}  // namespace lbd::l7
