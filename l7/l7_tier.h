// The L7 tier: builds each worker's HTTP listeners from the config, reloads
// them (unchanged listeners keep their socket), and offers the process-level
// controls (stop accepting, abort, stats, metrics). Mirrors l4::L4Tier.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/tier/runtime.h"
#include "core/loop/worker.h"
#include "l7/proxy_types.h"
#include "l7/tls_setup.h"
#include "lbd/v1/admin.pb.h"

namespace lbd::l7 {

class L7Worker;

class L7Tier {
public:
    L7Tier(const std::vector<Worker*>& workers, const GlobalConfig& global);
    // Call after the workers' threads have stopped.
    ~L7Tier();

    // Binds every HTTP listener of `runtime` on every worker, before the
    // workers start.
    bool start(RuntimePtr runtime, std::string* error);
    // Reload, on the control thread while workers run: as L4Tier::reload.
    // Open connections finish their current request on the configuration
    // they started with (and keep it for later requests).
    bool reload(RuntimePtr next, std::string* error);

    // Any thread: close listening sockets and idle connections; busy
    // connections close after their response.
    void stop_accepting();
    // Any thread: end every connection now.
    void abort_all();
    // Control thread.
    uint64_t active_connections() const;
    const HttpListenerStats* stats(const std::string& listener_name) const;
    std::optional<SocketAddress> bound_address(const std::string& listener_name) const;

    // Adds the HTTP listeners to `lbctl stats` (ended = by termination).
    void fill_stats(::lbd::v1::StatsReply& reply) const;
    // Prometheus text for the HTTP listeners.
    void write_metrics(std::string& out) const;

private:
    struct Slot {
        std::unique_ptr<HttpListenerStats> stats = std::make_unique<HttpListenerStats>();
        SocketAddress bound;
    };
    struct Plan;
    void write_rate_limit_metrics(std::string& out) const;
    void write_tls_metrics(std::string& out) const;
    // The next configuration's sockets and TLS contexts (control thread).
    bool prepare(const Runtime& next, std::vector<Plan>& plans, std::shared_ptr<const TlsContexts>& tls,
                 std::string* error);

    std::vector<std::unique_ptr<L7Worker>> worker_state_;
    std::map<std::string, Slot> slots_;  // by listener name, never erased
    RuntimePtr current_;
};

}  // namespace lbd::l7
