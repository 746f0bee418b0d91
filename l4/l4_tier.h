// The L4 tier: builds each worker's listening sockets and state from the
// config, reloads them, and offers the process-level controls (stop
// accepting, abort, stats).
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "core/admin/admin_registry.h"
#include "core/config/config.h"
#include "core/tier/runtime.h"
#include "core/loop/worker.h"
#include "l4/l4_types.h"

namespace lbd::l4 {

class L4Worker;

class L4Tier {
public:
    explicit L4Tier(const std::vector<Worker*>& workers, const GlobalConfig& global);
    // Call after the workers' threads have stopped.
    ~L4Tier();

    // Binds every TCP listener of `runtime` on every worker, before the
    // workers start. A port of 0 is resolved by the first bind and shared by
    // all workers.
    bool start(RuntimePtr runtime, std::string* error);

    // Reload, on the control thread while workers run. Opens the sockets of
    // new listeners (and of listeners whose address changed) first: if any
    // fails, nothing changes and the error says why. Otherwise each worker
    // gets its new listener set: an unchanged listener keeps its socket (and
    // the connections waiting in its accept queue), a removed one closes.
    // Open connections finish on the configuration they started with.
    bool reload(RuntimePtr next, std::string* error);

    // Any thread.
    void stop_accepting();
    void abort_all(EndReason reason);
    // Control thread.
    uint64_t active_connections() const;
    const ListenerStats* stats(const std::string& listener_name) const;
    // The address a listener is bound to (its port resolved if it was 0).
    std::optional<SocketAddress> bound_address(const std::string& listener_name) const;

    // Adds the TCP listeners to `lbctl stats`.
    void fill_stats(::lbd::v1::StatsReply& reply) const;
    // Prometheus text for the TCP listeners.
    void write_metrics(std::string& out) const;

private:
    // What lbd knows of a listener across reloads: its counters continue.
    struct Slot {
        std::unique_ptr<ListenerStats> stats = std::make_unique<ListenerStats>();
        SocketAddress configured;  // as written in the config
        SocketAddress bound;       // with the port resolved
    };
    struct Plan;
    void write_histograms(std::string& out) const;
    bool prepare(const Runtime& next, std::vector<Plan>& plans, std::string* error);

    std::vector<Worker*> workers_;
    std::vector<std::unique_ptr<L4Worker>> worker_state_;
    std::map<std::string, Slot> slots_;  // by listener name, never erased
    RuntimePtr current_;
};

}  // namespace lbd::l4
