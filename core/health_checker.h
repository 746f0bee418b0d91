// Active health checks, run on the control thread's event loop.
//
// Each checked server has its own timer. A check is a probe (today a TCP
// connect; the L7 tier adds an HTTP probe behind the same Probe interface);
// `rise` consecutive successes bring a DOWN server UP and `fall`
// consecutive failures take an UP server DOWN. Servers in MAINT are not
// probed. Passive ejection (a worker seeing connect failures) sets a server
// DOWN directly; the checks then bring it back with `rise` successes.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "core/event.h"
#include "core/pool.h"

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
    std::map<const Server*, std::unique_ptr<Check>> checks_;
};

}  // namespace lbd
