// Slow start (HAProxy's `slowstart`): a server that comes back UP takes 10%
// of its weight at once and grows linearly to its full weight over the
// pool's slow_start_ms.
//
// The ramp itself lives in the Server (a start time; balancing_weight()
// reads it). Balancers read weights only when they rebuild, which they do
// when the pool's generation changes, so this ticker, on the control
// thread, bumps the generation of each ramping server's pool ten times per
// ramp. Requests pay nothing; a rebuild is per worker per tick.
#pragma once

#include <memory>
#include <vector>

#include "core/loop/event.h"
#include "core/balance/pool.h"

namespace lbd {

class SlowStartTicker {
public:
    // Rebuilds per ramp, and the shortest tick (a very short ramp does not
    // need a rebuild every millisecond).
    static constexpr uint32_t kSteps = 10;
    static constexpr uint32_t kMinTickMs = 50;

    SlowStartTicker(event_base* base, const PoolSet& pools);
    // Arms one timer per pool with slow_start_ms set. Control thread.
    void start();

private:
    struct PoolTick {
        SlowStartTicker* owner;
        const Pool* pool;
        EventPtr timer;
    };
    static void on_tick(evutil_socket_t, short, void* arg);

    event_base* base_;
    const PoolSet& pools_;
    std::vector<std::unique_ptr<PoolTick>> ticks_;
};

}  // namespace lbd
