// An L4 listener on one worker: the core TcpListener (core/tier/tcp_listener.h)
// plus what its splice sessions need (pool, counters, the Runtime).
#pragma once

#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/balance/pool.h"
#include "core/tier/runtime.h"
#include "core/tier/tcp_listener.h"
#include "l4/l4_types.h"

namespace lbd::l4 {

class L4Worker;

// Owned by its worker and shared with its connections: after a reload
// replaces it, it lives (with its Runtime) until its last connection ends.
class L4Listener : public std::enable_shared_from_this<L4Listener> {
public:
    L4Listener(L4Worker& worker, RuntimePtr runtime, const ListenerConfig& config, Pool& pool, ListenerStats& stats,
               UniqueFd fd, AcceptSpread spread);

    const ListenerConfig& config() const { return listener_.config(); }
    const RuntimePtr& runtime() const { return runtime_; }
    Pool& pool() const { return pool_; }
    ListenerStats& stats() const { return stats_; }

    void start() { listener_.start(); }
    void stop() { listener_.stop(); }
    void drop_syns_to(const std::vector<std::string>& addresses) { listener_.drop_syns_to(addresses); }
    UniqueFd release_fd() { return listener_.release_fd(); }
    void connection_closed() { listener_.connection_closed(); }
    void adopt(UniqueFd fd, const SocketAddress& peer) { listener_.adopt(std::move(fd), peer); }

private:
    void accepted(UniqueFd fd, const SocketAddress& peer);

    L4Worker& worker_;
    RuntimePtr runtime_;
    Pool& pool_;
    ListenerStats& stats_;
    TcpListener listener_;
};

}  // namespace lbd::l4
