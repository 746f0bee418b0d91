// An HTTP listener on one worker: the core TcpListener plus what its
// sessions need (the Runtime it was built from, its pools, its counters).
#pragma once

#include <map>
#include <memory>
#include <string_view>

#include "core/config/config.h"
#include "core/balance/pool.h"
#include "core/tier/runtime.h"
#include "core/tier/tcp_listener.h"
#include "l7/cache_filter.h"
#include "l7/filter.h"
#include "l7/proxy_types.h"
#include "l7/rate_limit.h"
#include "l7/weighted_split.h"
#include "l7/tls_setup.h"

namespace lbd::l7 {

class L7Worker;

// Owned by its worker and shared with its sessions: after a reload replaces
// it, it lives (with its Runtime) until its last connection ends.
class HttpListener : public std::enable_shared_from_this<HttpListener> {
public:
    // `tls`: the contexts of `runtime`'s configuration (TlsContexts::build).
    HttpListener(L7Worker& worker, RuntimePtr runtime, std::shared_ptr<const TlsContexts> tls,
                 const ListenerConfig& config, HttpListenerStats& stats, UniqueFd fd, AcceptSpread spread);

    const ListenerConfig& config() const { return listener_.config(); }
    const HttpConfig& http() const { return listener_.config().http; }
    const RuntimePtr& runtime() const { return runtime_; }
    HttpListenerStats& stats() const { return stats_; }
    // The listener's default pool, or null when it has none.
    Pool* default_pool() const { return default_pool_; }
    // A pool of the listener's configuration (routes name them).
    Pool* pool(std::string_view name) const { return runtime_->pools.find(name); }
    // The weighted-split state of `route` (one of this listener's routes
    // with a split) on this worker.
    SplitRoute& split(const HttpRouteConfig& route) { return splits_.at(&route); }
    const ListenerRateLimits& rate_limits() const { return rate_limits_; }
    // The request and response filters of this listener's exchanges, in order.
    const FilterChain& filters() const { return filters_; }

    // Null: plain HTTP.
    TlsServerContext* server_tls() const { return server_tls_; }
    // The port the listening socket is bound to, which is every accepted
    // connection's local port (X-Forwarded-Port): read once here rather than
    // with a getsockname per connection.
    uint16_t local_port() const { return local_port_; }
    // The client context towards `pool`'s servers; null: plain HTTP. Shared:
    // an idle server connection may outlive this listener.
    const std::shared_ptr<const TlsClientContext>& pool_tls(const std::string& pool) const { return tls_->pool(pool); }

    void start();
    void stop();
    // A reload put another listener in this one's place: its HTTP/2
    // connections send GOAWAY (their clients reconnect to the new
    // configuration); HTTP/1 ones finish on this one, as they began.
    void mark_replaced() { replaced_ = true; }
    bool replaced() const { return replaced_; }
    UniqueFd release_fd() { return listener_.release_fd(); }
    void drop_syns_to(const std::vector<std::string>& addresses) { listener_.drop_syns_to(addresses); }
    void connection_closed() { listener_.connection_closed(); }
    void adopt(UniqueFd fd, const SocketAddress& peer) { listener_.adopt(std::move(fd), peer); }

private:
    void accepted(UniqueFd fd, const SocketAddress& peer);
    static void on_rotate(evutil_socket_t fd, short what, void* arg);

    L7Worker& worker_;
    RuntimePtr runtime_;
    std::shared_ptr<const TlsContexts> tls_;
    TlsServerContext* server_tls_ = nullptr;
    EventPtr rotate_;  // ticket key rotation, while accepting
    HttpListenerStats& stats_;
    Pool* default_pool_ = nullptr;
    uint16_t local_port_ = 0;  // before listener_, which takes the socket
    bool replaced_ = false;
    TcpListener listener_;
    std::map<const HttpRouteConfig*, SplitRoute> splits_;
    ListenerRateLimits rate_limits_;
    ListenerCaches caches_;
    FilterChain filters_;  // last: its filters refer to the members above
};

}  // namespace lbd::l7
