#include "l7/upstream.h"

#include <sys/time.h>

#include "l7/h2_upstream.h"

namespace lbd::l7 {

UpstreamPool::UpstreamPool(event_base* base) : trim_timer_(make_event(base, -1, 0, &UpstreamPool::on_trim, this)) {}
UpstreamPool::~UpstreamPool() = default;

H2Upstreams& UpstreamPool::h2(event_base* base) {
    if (!h2_) h2_ = std::make_unique<H2Upstreams>(base);
    return *h2_;
}

std::unique_ptr<UpstreamConn> UpstreamPool::take(const Server* server) {
    auto it = idle_.find(server);
    if (it == idle_.end() || it->second.conns.empty()) return nullptr;
    std::list<std::unique_ptr<UpstreamConn>>& conns = it->second.conns;
    std::unique_ptr<UpstreamConn> conn = std::move(conns.front());
    if (spare_nodes_.size() < kSpareNodes)
        spare_nodes_.splice(spare_nodes_.begin(), conns, conns.begin());
    else
        conns.pop_front();
    if (conns.empty()) idle_.erase(it);
    conn->pool = nullptr;
    conn->reused = true;
    bufferevent_set_timeouts(conn->bev.get(), nullptr, nullptr);
    bufferevent_setcb(conn->bev.get(), nullptr, nullptr, nullptr, nullptr);
    return conn;
}

void UpstreamPool::put(std::unique_ptr<UpstreamConn> conn, uint32_t max_idle, uint32_t idle_ms) {
    IdleList& server_idle = idle_[conn->server.get()];
    server_idle.max_idle = max_idle;
    UpstreamConn* raw = conn.get();
    if (!spare_nodes_.empty()) {
        server_idle.conns.splice(server_idle.conns.begin(), spare_nodes_, spare_nodes_.begin());
        server_idle.conns.front() = std::move(conn);
    } else {
        server_idle.conns.push_front(std::move(conn));
    }
    raw->pool = this;
    raw->self = server_idle.conns.begin();
    raw->idle_since_ms = monotonic_ms();
    // Past max_idle: kept for the grace, then trimmed (upstream.h).
    if (server_idle.conns.size() > max_idle && !event_pending(trim_timer_.get(), EV_TIMEOUT, nullptr))
        arm_timer(trim_timer_.get(), kIdleSurplusGraceMs);
    timeval idle{static_cast<time_t>(idle_ms / 1000), static_cast<suseconds_t>(idle_ms % 1000 * 1000)};
    bufferevent_set_timeouts(raw->bev.get(), &idle, nullptr);
    bufferevent_setcb(raw->bev.get(), &UpstreamPool::on_idle_read, nullptr, &UpstreamPool::on_idle_event, raw);
    bufferevent_enable(raw->bev.get(), EV_READ);
}

size_t UpstreamPool::idle_count() const {
    size_t n = 0;
    for (const auto& [server, idle] : idle_) n += idle.conns.size();
    return n;
}

size_t UpstreamPool::close_idle(const Server* server) {
    // HTTP/2 sessions: the idle ones close now, the busy ones once their streams end.
    size_t n = h2_ ? h2_->drain(server) : 0;
    auto it = idle_.find(server);
    if (it == idle_.end()) return n;
    n += it->second.conns.size();
    idle_.erase(it);  // frees (closes) them
    return n;
}

void UpstreamPool::on_trim(evutil_socket_t, short, void* arg) { static_cast<UpstreamPool*>(arg)->trim_surplus(); }

void UpstreamPool::trim_surplus() {
    const uint64_t now = monotonic_ms();
    uint64_t next_due_ms = 0;  // the earliest the remaining surplus is due, 0: none left
    for (auto it = idle_.begin(); it != idle_.end();) {
        IdleList& idle = it->second;
        // The oldest are at the back; the newest surplus waits for its own grace.
        while (idle.conns.size() > idle.max_idle && now - idle.conns.back()->idle_since_ms >= kIdleSurplusGraceMs) {
            idle.conns.pop_back();  // closes it
        }
        if (idle.conns.size() > idle.max_idle) {
            const uint64_t due = idle.conns.back()->idle_since_ms + kIdleSurplusGraceMs;
            if (next_due_ms == 0 || due < next_due_ms) next_due_ms = due;
        }
        it = idle.conns.empty() ? idle_.erase(it) : std::next(it);
    }
    if (next_due_ms != 0) arm_timer(trim_timer_.get(), static_cast<uint32_t>(next_due_ms > now ? next_due_ms - now : 1));
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
    it->second.conns.erase(conn->self);  // frees conn
    if (it->second.conns.empty()) idle_.erase(it);
}

}  // namespace lbd::l7
