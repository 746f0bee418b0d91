#include "core/health_checker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace lbd {

// One server's check: a timer that starts a probe every interval, and the
// probe's socket while it is in flight.
//
//   IDLE --timer--> PROBING --connected / failed / timed out--> IDLE
struct HealthChecker::Check {
    Check(event_base* base, std::shared_ptr<Server> owned, const HealthCheckConfig& cfg)
        : base(base), owner(std::move(owned)), server(*owner), cfg(cfg) {
        timer = make_event(base, -1, 0, &Check::on_timer, this);
    }

    static void on_timer(evutil_socket_t, short, void* arg) { static_cast<Check*>(arg)->begin_probe(); }

    static void on_probe(evutil_socket_t fd, short what, void* arg) {
        auto* self = static_cast<Check*>(arg);
        if (what & EV_TIMEOUT) return self->finish(false, "connect timed out");
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return self->finish(false, strerror(err));
        self->finish(true, "connect succeeded");
    }

    void begin_probe() {
        if (server.admin_state() == AdminState::kMaint) return schedule();
        const SocketAddress& addr = server.address();
        fd.reset(socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) return finish(false, strerror(errno));
        if (connect(fd.get(), addr.sockaddr_ptr(), addr.length()) == 0) return finish(true, "connect succeeded");
        if (errno != EINPROGRESS) return finish(false, strerror(errno));
        probe = make_event(base, fd.get(), EV_WRITE, &Check::on_probe, this);
        arm_timer(probe.get(), cfg.timeout_ms);
    }

    void finish(bool ok, const char* why) {
        probe.reset();
        // Close with RST: a health probe has nothing to say, and a FIN/TIME_WAIT
        // per probe would pile up on the checker's side.
        if (fd) {
            linger lin{1, 0};
            setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
            fd.reset();
        }
        record(ok, why);
        schedule();
    }

    void record(bool ok, const char* why) {
        char reason[160];
        if (ok) {
            failures = 0;
            if (server.health() == HealthState::kUp) return;
            if (++successes < cfg.rise) return;
            std::snprintf(reason, sizeof reason, "health check: %s, %u/%u successes", why, successes, cfg.rise);
            successes = 0;
            server.set_health(HealthState::kUp, reason);
        } else {
            successes = 0;
            if (server.health() == HealthState::kDown) return;
            if (++failures < cfg.fall) return;
            std::snprintf(reason, sizeof reason, "health check: %s, %u/%u failures", why, failures, cfg.fall);
            failures = 0;
            server.set_health(HealthState::kDown, reason);
        }
    }

    void schedule() { arm_timer(timer.get(), cfg.interval_ms); }

    event_base* base;
    std::shared_ptr<Server> owner;
    Server& server;
    HealthCheckConfig cfg;
    EventPtr timer;
    EventPtr probe;
    UniqueFd fd;
    uint32_t successes = 0;
    uint32_t failures = 0;
};

HealthChecker::HealthChecker(event_base* base, const PoolSet& pools) : pools_(pools), base_(base) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::start() { sync(); }

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
