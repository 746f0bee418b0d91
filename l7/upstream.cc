#include "l7/upstream.h"

#include <sys/time.h>

#include "l7/h2_upstream.h"

namespace lbd::l7 {

UpstreamPool::UpstreamPool() = default;
UpstreamPool::~UpstreamPool() = default;

H2Upstreams& UpstreamPool::h2(event_base* base) {
    if (!h2_) h2_ = std::make_unique<H2Upstreams>(base);
    return *h2_;
}

std::unique_ptr<UpstreamConn> UpstreamPool::take(const Server* server) {
    auto it = idle_.find(server);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::unique_ptr<UpstreamConn> conn = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) idle_.erase(it);
    conn->pool = nullptr;
    conn->reused = true;
    bufferevent_set_timeouts(conn->bev.get(), nullptr, nullptr);
    bufferevent_setcb(conn->bev.get(), nullptr, nullptr, nullptr, nullptr);
    return conn;
}

void UpstreamPool::put(std::unique_ptr<UpstreamConn> conn, uint32_t max_idle, uint32_t idle_ms) {
    auto& list = idle_[conn->server.get()];
    if (list.size() >= max_idle) {
        if (list.empty()) idle_.erase(conn->server.get());
        return;  // conn closes here
    }
    UpstreamConn* raw = conn.get();
    list.push_front(std::move(conn));
    raw->pool = this;
    raw->self = list.begin();
    timeval idle{static_cast<time_t>(idle_ms / 1000), static_cast<suseconds_t>(idle_ms % 1000 * 1000)};
    bufferevent_set_timeouts(raw->bev.get(), &idle, nullptr);
    bufferevent_setcb(raw->bev.get(), &UpstreamPool::on_idle_read, nullptr, &UpstreamPool::on_idle_event, raw);
    bufferevent_enable(raw->bev.get(), EV_READ);
}

size_t UpstreamPool::idle_count() const {
    size_t n = 0;
    for (const auto& [server, list] : idle_) n += list.size();
    return n;
}

size_t UpstreamPool::close_idle(const Server* server) {
    // HTTP/2 sessions: the idle ones close now, the busy ones once their streams end.
    size_t n = h2_ ? h2_->drain(server) : 0;
    auto it = idle_.find(server);
    if (it == idle_.end()) return n;
    n += it->second.size();
    idle_.erase(it);  // frees (closes) them
    return n;
}

void UpstreamPool::on_idle_read(bufferevent* bev, void* arg) {
    // A read callback of the exchange that just ended may still be queued
    // (deferred, from a read made before the one that completed the response,
    // whose bytes that exchange has consumed): it arrives here with nothing to
    // read. Only bytes make the connection unusable. Dropping on the empty
    // callback closed most server connections of responses longer than one
    // read under concurrency (bench/compress.sh at -c50: 931 connects per
    // 1000 responses).
    if (evbuffer_get_length(bufferevent_get_input(bev)) == 0) return;
    auto* conn = static_cast<UpstreamConn*>(arg);
    conn->pool->drop(conn);  // bytes nobody asked for: the connection is unusable
}

void UpstreamPool::on_idle_event(bufferevent*, short, void* arg) {
    auto* conn = static_cast<UpstreamConn*>(arg);
    conn->pool->drop(conn);  // EOF, error or idle timeout
}

void UpstreamPool::drop(UpstreamConn* conn) {
    auto it = idle_.find(conn->server.get());
    if (it == idle_.end()) return;
    it->second.erase(conn->self);  // frees conn
    if (it->second.empty()) idle_.erase(it);
}

}  // namespace lbd::l7
