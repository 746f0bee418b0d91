#include "core/balance/slow_start.h"

#include <algorithm>

namespace lbd {

SlowStartTicker::SlowStartTicker(event_base* base, const PoolSet& pools) : base_(base), pools_(pools) {}

void SlowStartTicker::start() {
    for (const auto& pool : pools_.pools()) {
        const uint32_t ramp = pool->config().slow_start_ms;
        if (ramp == 0) continue;
        auto tick = std::make_unique<PoolTick>(PoolTick{this, pool.get(), nullptr});
        tick->timer = make_event(base_, -1, EV_PERSIST, &SlowStartTicker::on_tick, tick.get());
        arm_timer(tick->timer.get(), std::max(ramp / kSteps, kMinTickMs));
        ticks_.push_back(std::move(tick));
    }
}

void SlowStartTicker::on_tick(evutil_socket_t, short, void* arg) {
    const auto* tick = static_cast<PoolTick*>(arg);
    const uint64_t now = monotonic_ms();
    for (const auto& server : *tick->pool->servers()) server->slow_start_tick(now);
}

}  // namespace lbd
