// Connections to servers, and each worker's pool of idle keep-alive ones.
//
// A connection is owned by one session while it carries a request, and by
// the worker's UpstreamPool between requests. An idle connection that gets
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
    // HTTP/2 pools: the stream behind `bev` (declared after it, so it goes
    // first); such a connection is never put into the idle pool.
    std::unique_ptr<UpstreamLink> link;
    // While idle in a pool.
    UpstreamPool* pool = nullptr;
    std::list<std::unique_ptr<UpstreamConn>>::iterator self;
};

class UpstreamPool {
public:
    UpstreamPool();
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle connection to `server`, most recently used first; null if none.
    std::unique_ptr<UpstreamConn> take(const Server* server);
    // Keeps `conn` for reuse for up to `idle_ms` (HttpTimeouts.server_idle_ms:
    // servers close idle connections after their own keep-alive timeout, and
    // closing ours first avoids most reuse races), unless `server` has
    // max_idle idle ones already.
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
    void drop(UpstreamConn* conn);

    std::map<const Server*, std::list<std::unique_ptr<UpstreamConn>>> idle_;
    std::unique_ptr<H2Upstreams> h2_;
};

}  // namespace lbd::l7
