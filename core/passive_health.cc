#include "core/passive_health.h"

#include <cstdio>

#include "core/event.h"

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

}  // namespace lbd
