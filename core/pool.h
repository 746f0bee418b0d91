// Pools at run time, shared by all workers, and the per-worker picker that
// chooses a server for a new connection.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/balancer.h"
#include "core/config.h"
#include "core/server.h"
#include "core/stick_table.h"

namespace lbd {

class Pool {
public:
    explicit Pool(const PoolConfig& config);

    const PoolConfig& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    const std::vector<std::unique_ptr<Server>>& servers() const { return servers_; }
    Server* find_server(std::string_view name) const;
    // Bumped on every change that alters balancing (state, weight).
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // nullptr when the pool has no stickiness.
    StickTable* stick_table() const { return stick_table_.get(); }

    // Called on every server state change (any thread).
    void set_state_listener(Server::StateListener listener);

private:
    PoolConfig config_;
    std::atomic<uint64_t> generation_{1};
    std::vector<std::unique_ptr<Server>> servers_;
    std::unique_ptr<StickTable> stick_table_;
};

// All pools of a configuration, by name.
class PoolSet {
public:
    explicit PoolSet(const Config& config);
    Pool* find(std::string_view name) const;
    const std::vector<std::unique_ptr<Pool>>& pools() const { return pools_; }

private:
    std::vector<std::unique_ptr<Pool>> pools_;
};

// One per pool per worker: owns that worker's balancer instance.
// Not thread-safe; used only on its worker's thread.
class ServerPicker {
public:
    explicit ServerPicker(Pool& pool);

    Pool& pool() const { return pool_; }
    // A server for a client whose address is `client`, avoiding `excluded`:
    // the stick-table entry if it is usable, else the balancer's choice
    // (which then becomes the client's entry). nullptr when none is usable.
    Server* pick(const SocketAddress& client, std::span<const Server* const> excluded);
    // True when some server is UP (even if all are at max_connections).
    bool any_up();

private:
    void refresh();

    Pool& pool_;
    std::unique_ptr<Balancer> balancer_;
    uint64_t built_generation_ = 0;
    std::vector<Server*> usable_;
};

}  // namespace lbd
