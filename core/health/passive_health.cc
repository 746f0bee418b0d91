#include "core/health/passive_health.h"

#include <cstdio>

#include "core/loop/event.h"

namespace lbd {

namespace {

bool count_failure(Server& server, const PoolConfig& pool, const char* what) {
    const PassiveHealthConfig& passive = pool.passive_health;
    // A server already out (ejected, or failing its checks) is not ejected
    // again by the answers still in flight: one revival per ejection.
    if (!passive.enabled || server.health() == HealthState::kDown) return false;
    if (!server.record_failure(monotonic_ms(), passive.max_fails, passive.fail_timeout_ms)) return false;
    char reason[160];
    std::snprintf(reason, sizeof reason, "passive: ejected after %u failures within %u ms, last: %s",
                  passive.max_fails, passive.fail_timeout_ms, what);
    server.set_health(HealthState::kDown, reason);
    return !pool.health_check.enabled;
}

}  // namespace

bool passive_connect_failure(Server& server, const PoolConfig& pool, const char* why) {
    char what[128];
    std::snprintf(what, sizeof what, "connect failed: %s", why);
    return count_failure(server, pool, what);
}

bool passive_response_status(Server& server, const PoolConfig& pool, int status) {
    if (!pool.passive_health.failure_statuses.contains(status)) return false;
    char what[32];
    std::snprintf(what, sizeof what, "HTTP %d", status);
    return count_failure(server, pool, what);
}

void PassiveRevivals::schedule(std::shared_ptr<Server> server, uint32_t ms) {
    Revival& entry = revivals_.emplace_back();
    entry.owner = this;
    entry.self = std::prev(revivals_.end());
    entry.server = std::move(server);
    entry.timer = make_event(base_, -1, 0, &PassiveRevivals::on_revive, &entry);
    arm_timer(entry.timer.get(), ms);
}

void PassiveRevivals::on_revive(evutil_socket_t, short, void* arg) {
    auto* entry = static_cast<Revival*>(arg);
    entry->server->set_health(HealthState::kUp, "passive: ejection_ms elapsed");
    entry->owner->revivals_.erase(entry->self);
}

}  // namespace lbd
