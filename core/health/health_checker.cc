#include "core/health/health_checker.h"

#include <cstdio>
#include <optional>
#include <string>

#include "core/health/health_probe.h"
#include "core/health/rise_fall.h"
#include "core/net/local_errors.h"
#include "core/base/log.h"

namespace lbd {

// One server's check: a timer that starts a probe every interval, and the
// probe (the strategy named by the config) while it is in flight. The
// timeout is enforced here, the same for every probe: destroying a probe
// closes its socket.
//
//   IDLE --timer--> PROBING --probe done / timed out--> IDLE
struct HealthChecker::Check {
    Check(event_base* base, std::shared_ptr<Server> owned, const HealthCheckConfig& cfg)
        : base(base), owner(std::move(owned)), server(*owner), cfg(cfg) {
        timer = make_event(base, -1, 0, &Check::on_timer, this);
        timeout = make_event(base, -1, 0, &Check::on_timeout, this);
    }

    static void on_timer(evutil_socket_t, short, void* arg) { static_cast<Check*>(arg)->begin_probe(); }

    static void on_timeout(evutil_socket_t, short, void* arg) {
        auto* self = static_cast<Check*>(arg);
        self->probe.reset();
        self->finish(false, "timeout");
    }

    void begin_probe() {
        if (server.admin_state() == AdminState::kMaint) return schedule();
        // The previous probe is done (it may have called back from inside
        // its own start(), so it is only freed here, never in finish()).
        probe = ProbeRegistry::create(cfg.probe, base, cfg);
        if (probe == nullptr) return finish(false, "unknown probe");
        arm_timer(timeout.get(), cfg.timeout_ms);
        probe->start(server.address(), [this](bool ok, std::string_view why) { finish(ok, why); });
    }

    void finish(bool ok, std::string_view why) {
        event_del(timeout.get());
        if (std::optional<LocalCause> cause = ok || !probe ? std::nullopt : probe->local_failure()) {
            skip(*cause, why);
        } else {
            record(ok, std::string(why).c_str());
        }
        schedule();
    }

    // The check could not run for lack of lbd's own resources: the server
    // keeps its state and its rise/fall counts (core/net/local_errors.h).
    void skip(LocalCause cause, std::string_view why) {
        uint64_t unlogged = 0;
        if (!count_local_error(LocalWhere::kHealthCheck, cause, &unlogged)) return;
        LOG_WARN("health check of %s/%s not run: %.*s (lbd's own shortage, not the server's; its state stays %s; "
                 "%llu more not logged)",
                 server.pool_name().c_str(), server.name().c_str(), static_cast<int>(why.size()), why.data(),
                 to_string(server.health()), static_cast<unsigned long long>(unlogged));
    }

    void record(bool ok, const char* why) {
        const std::optional<RiseFall::Change> change = rise_fall.record(ok, server.health());
        if (!change) return;
        char reason[160];
        std::snprintf(reason, sizeof reason, "health check: %s, %u/%u %s", why, change->streak,
                      ok ? cfg.rise : cfg.fall, ok ? "successes" : "failures");
        server.set_health(change->health, reason);
    }

    void schedule() { arm_timer(timer.get(), cfg.interval_ms); }

    event_base* base;
    std::shared_ptr<Server> owner;
    Server& server;
    HealthCheckConfig cfg;
    EventPtr timer;
    EventPtr timeout;
    std::unique_ptr<Probe> probe;
    RiseFall rise_fall{cfg.rise, cfg.fall};
};

HealthChecker::HealthChecker(event_base* base, const PoolSet& pools)
    : pools_(pools), base_(base), slow_start_(base, pools) {
    register_builtin_probes();
}

HealthChecker::~HealthChecker() = default;

void HealthChecker::start() {
    sync();
    slow_start_.start();
}

void HealthChecker::sync() {
    std::map<const Server*, std::unique_ptr<Check>> next;
    for (const auto& pool : pools_.pools()) {
        const HealthCheckConfig& cfg = pool->config().health_check;
        if (!cfg.enabled) continue;
        for (const auto& server : *pool->servers()) {
            auto it = checks_.find(server.get());
            if (it != checks_.end()) {
                next.emplace(server.get(), std::move(it->second));
                continue;
            }
            auto check = std::make_unique<Check>(base_, server, cfg);
            // The first probe goes out at once, so a dead server is found
            // within `fall` probes rather than `fall` intervals later.
            check->begin_probe();
            next.emplace(server.get(), std::move(check));
        }
    }
    checks_.swap(next);  // checks of removed servers are destroyed here
}

}  // namespace lbd
