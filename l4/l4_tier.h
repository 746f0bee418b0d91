// The L4 tier: builds each worker's listening sockets and state from the
// config, and offers the process-level controls (stop accepting, abort).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/admin_registry.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/worker.h"
#include "l4/l4_types.h"

namespace lbd::l4 {

class L4Worker;

class L4Tier {
public:
    // `config` and `pools` must outlive the tier.
    L4Tier(const Config& config, PoolSet& pools, const std::vector<Worker*>& workers);
    // Call after the workers' threads have stopped.
    ~L4Tier();

    // Binds every TCP listener on every worker (before the workers start).
    // A port of 0 is resolved by the first bind and shared by all workers.
    bool bind_listeners(std::string* error);

    // Any thread.
    void stop_accepting();
    void abort_all(EndReason reason);
    // Open connections of all listeners (any thread).
    uint64_t active_connections() const;
    const ListenerStats* stats(const std::string& listener_name) const;

    // Registers the L4 tier's admin commands (stats).
    void register_admin_commands(AdminRegistry& registry) const;
    // Prometheus text for the TCP listeners.
    void write_metrics(std::string& out) const;

private:
    const Config& config_;
    PoolSet& pools_;
    std::vector<Worker*> workers_;
    std::vector<std::unique_ptr<L4Worker>> worker_state_;
    std::vector<std::unique_ptr<ListenerStats>> stats_;  // one per TCP listener, config order
};

}  // namespace lbd::l4
