// The L4 tier: TCP listeners whose connections are spliced to a pool's
// servers. The listener bookkeeping (sockets kept across reloads, counters,
// per-worker switch-over) is the shared shell (core/tier/listener_tier.h);
// this adds how an L4 listener is made and the tier's stats and metrics.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/loop/worker.h"
#include "core/tier/listener_tier.h"
#include "l4/l4_listener.h"
#include "l4/l4_types.h"
#include "l4/l4_worker.h"

namespace lbd::l4 {

// An L4 listener needs nothing beyond its config and pool.
struct NothingShared {};

class L4Tier final : public ListenerTier<L4Worker, L4Listener, ListenerStats, NothingShared> {
public:
    L4Tier(const std::vector<Worker*>& workers, const GlobalConfig& global);
    // Call after the workers' threads have stopped.
    ~L4Tier() override;

    // Adds the TCP listeners to `lbctl stats`.
    void fill_stats(::lbd::v1::StatsReply& reply) const override;
    // Prometheus text for the TCP listeners.
    void write_metrics(std::string& out) const override;

private:
    std::shared_ptr<const NothingShared> prepare_shared(const Runtime& next, std::string* error) override;
    std::shared_ptr<L4Listener> make_listener(L4Worker& worker, const RuntimePtr& runtime,
                                              const std::shared_ptr<const NothingShared>& shared,
                                              const ListenerConfig& config, ListenerStats& stats,
                                              UniqueFd fd, AcceptSpread spread) override;
    const char* mode_label(const ListenerConfig&) const override { return "tcp"; }
    void write_histograms(std::string& out) const;
};

}  // namespace lbd::l4
