// Connections to servers, and each worker's pool of idle keep-alive ones.
//
// A connection is owned by one session while it carries a request, and by
// the worker's UpstreamPool between requests.
//
// The pool keeps at most max_idle_per_server idle connections per server,
// but only past a short grace (kIdleSurplusGraceMs): a burst of responses
// that end in the same loop turns (an HTTP/2 client with 100 streams, many
// clients at once) leaves more idle connections than that for an instant,
// and the requests right behind those responses need them again. Closing
// the surplus at once made every such burst connect anew (bench/h2.sh at
// -c100 -m100: about one connect per response, thousands of TIME_WAITs).
// The surplus that stays idle for the grace is closed, oldest first. An idle connection that gets
// any byte or an EOF (the server closed it, or sent garbage) or stays idle
// too long is dropped: only a quiet, open connection is reused. A reused
// connection may still have been closed by the server an instant before
// the request went out: the session retries such a request once on a fresh
// connection when it is safe (RequestInfo::replayable()).
//
// Worker thread only.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>

#include "core/balance/server.h"
#include "core/loop/event.h"
#include "l7/transport.h"

namespace lbd::l7 {

class UpstreamPool;
class H2Upstreams;

// What stands behind an UpstreamConn's `bev` when it is no socket: an
// HTTP/2 stream (h2_upstream.h). Destroying it ends the stream.
class UpstreamLink {
public:
    virtual ~UpstreamLink() = default;
};

struct UpstreamConn {
    std::shared_ptr<Server> server;
    // The TLS context the connection was made with (null: plain). A reload
    // builds new contexts, and may turn a pool's tls on or off while its
    // servers (and their idle connections) carry over: a connection is only
    // reused for the context it was made with.
    std::shared_ptr<const TlsClientContext> tls;
    BufferEventPtr bev;
    bool reused = false;
    uint64_t idle_since_ms = 0;  // while idle in a pool
    // HTTP/2 pools: the stream behind `bev` (declared after it, so it goes
    // first); such a connection is never put into the idle pool.
    std::unique_ptr<UpstreamLink> link;
    // While idle in a pool.
    UpstreamPool* pool = nullptr;
    std::list<std::unique_ptr<UpstreamConn>>::iterator self;
};

class UpstreamPool {
public:
    // How long idle connections past a server's max_idle are kept for the
    // requests right behind the responses that freed them.
    static constexpr uint32_t kIdleSurplusGraceMs = 1000;

    explicit UpstreamPool(event_base* base);
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle connection to `server`, most recently used first; null if none.
    std::unique_ptr<UpstreamConn> take(const Server* server);
    // Keeps `conn` for reuse for up to `idle_ms` (HttpTimeouts.server_idle_ms:
    // servers close idle connections after their own keep-alive timeout, and
    // closing ours first avoids most reuse races). Past `max_idle` idle ones
    // to its server, the oldest are closed once idle for kIdleSurplusGraceMs.
    void put(std::unique_ptr<UpstreamConn> conn, uint32_t max_idle, uint32_t idle_ms);
    size_t idle_count() const;
    // Closes the idle connections to `server`, and drains its HTTP/2
    // sessions (H2Upstreams::drain); how many closed at once.
    size_t close_idle(const Server* server);
    void clear() { idle_.clear(); }
    // The worker's HTTP/2 sessions to servers (made on first use).
    H2Upstreams& h2(event_base* base);

private:
    static void on_idle_read(bufferevent* bev, void* arg);
    static void on_idle_event(bufferevent* bev, short what, void* arg);
    static void on_trim(evutil_socket_t fd, short what, void* arg);
    void drop(UpstreamConn* conn);
    // Closes the surplus idle for the grace; rearms while any is left.
    void trim_surplus();

    // One server's idle connections, most recently used first, and the
    // max_idle its last put() allowed (listeners may differ).
    struct IdleList {
        std::list<std::unique_ptr<UpstreamConn>> conns;
        uint32_t max_idle = 0;
    };
    std::map<const Server*, IdleList> idle_;
    // List nodes of connections taken, for the next put(): a keep-alive
    // request takes a connection and puts it back, and a node made and freed
    // each time was one of its allocations. Empty unique_ptrs; at most
    // kSpareNodes kept.
    static constexpr size_t kSpareNodes = 64;
    std::list<std::unique_ptr<UpstreamConn>> spare_nodes_;
    EventPtr trim_timer_;
    std::unique_ptr<H2Upstreams> h2_;
};

}  // namespace lbd::l7
