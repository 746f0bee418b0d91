// Active health checks, run on the control thread's event loop.
//
// Each checked server has its own timer. A check is a probe, a strategy
// registered by name (health_probe.h: a TCP connect, or an HTTP request);
// `rise` consecutive successes bring a DOWN server UP and `fall`
// consecutive failures take an UP server DOWN. Servers in MAINT are not
// probed. Passive ejection (a worker seeing connect failures or 5xx
// statuses; passive_health.h) sets a server DOWN directly; the checks then
// bring it back with `rise` successes.
//
// The checker also drives the pools' slow start (slow_start.h): both run on
// the control thread and live as long as one configuration.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "core/loop/event.h"
#include "core/balance/pool.h"
#include "core/balance/slow_start.h"

namespace lbd {

class HealthChecker {
public:
    HealthChecker(event_base* base, const PoolSet& pools);
    ~HealthChecker();

    // Starts probing every server of every pool with a health_check.
    void start();
    // Follows servers added or removed at run time: new servers get a check
    // (probed at once), removed ones lose theirs. Control thread.
    void sync();

private:
    struct Check;
    const PoolSet& pools_;
    event_base* base_;
    SlowStartTicker slow_start_;
    std::map<const Server*, std::unique_ptr<Check>> checks_;
};

}  // namespace lbd
