// The lbd process over its tiers (core/tier/tier.h): start, the reload
// transaction, drain and stop, status and process metrics. It knows no tier
// and no HA code: lbd's main (cli/lbd_main.cc) builds those and hands them
// over, as Envoy's server is handed its listener manager.
//
// Stop sequence on SIGTERM/SIGINT:
//
//   RUNNING --signal--> DRAINING --no connection left--> STOPPED
//                          |  \--deadline or 2nd signal--> ABORTING --> STOPPED
//
// Reload (SIGHUP, `lbctl reload`), on the control thread:
//
//   read + check the file --error--> keep running, say why (file:line:col)
//        |
//   next Runtime (kept servers, stick tables, rate limits carry over)
//        |
//   prepare(next) on every tier --any fails--> drop every plan: nothing changed
//        |
//   commit(plan) on every tier, wait for the workers to switch, restart health checks
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/admin/admin_http.h"
#include "core/admin/admin_registry.h"
#include "core/admin/admin_server.h"
#include "core/config/config.h"
#include "core/daemon/pair_member.h"
#include "core/daemon/server_names.h"
#include "core/health/health_checker.h"
#include "core/loop/event.h"
#include "core/loop/worker.h"
#include "core/tier/runtime.h"
#include "core/tier/tier.h"
#include "lbd/v1/admin.pb.h"

namespace lbd {

struct DaemonParts {
    std::string version;
    // What serves malloc() (cli/allocator.h): a label of lbd_build_info.
    std::string allocator;
    // Gives the allocator's free memory back to the kernel; run on a worker's
    // thread when it goes quiet (global.memory_release_idle_ms). Empty = none.
    std::function<void()> release_free_memory;
    // The tiers, built on the workers (before they start).
    std::function<std::vector<std::unique_ptr<Tier>>(const std::vector<Worker*>& workers, const GlobalConfig& global)>
        make_tiers;
    // The HA pair member, used when the config has global.ha.
    PairFactory make_pair;
};

class Daemon {
public:
    Daemon(Config config, DaemonParts parts);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Runs until stopped; the process's exit status.
    int run();

private:
    bool start_tiers(std::string* error);
    bool start_pair(std::string* error);
    bool start_admin(std::string* error);
    void register_pair_commands();
    void write_daemon_metrics(std::string& out) const;
    void reload(::lbd::v1::ReloadReply& reply);
    bool switch_tiers(const RuntimePtr& next, std::string* error);
    void describe(::lbd::v1::StatusReply& out) const;
    Tier* tier_for(ListenerMode mode) const;
    void begin_drain(int signal);
    void abort_connections();
    uint64_t active_connections() const;
    // Client connections open on worker `worker`, all tiers (core/tier/worker_spread.h).
    uint32_t worker_connections(unsigned worker) const;
    // Connections worker `worker` took over from a busier worker, all tiers.
    uint64_t worker_handed(unsigned worker) const;

    static void on_stop_signal(evutil_socket_t sig, short, void* arg);
    static void on_hup(evutil_socket_t, short, void* arg);
    static void on_drain_tick(evutil_socket_t, short, void* arg);

    DaemonParts parts_;
    RuntimePtr current_;
    std::string config_path_;
    std::string config_sha256_;  // of the bytes of the running config
    EventBasePtr control_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::unique_ptr<Tier>> tiers_;
    std::unique_ptr<HealthChecker> health_;
    std::unique_ptr<ServerNames> names_;  // re-resolution of server names
    std::unique_ptr<PairMember> pair_;
    AdminRegistry admin_registry_;
    std::unique_ptr<AdminServer> admin_;
    std::unique_ptr<AdminHttp> admin_http_;
    uint64_t start_ms_;
    uint64_t reloads_applied_ = 0;
    uint64_t reloads_rejected_ = 0;
    EventPtr sigterm_, sigint_, sighup_, drain_timer_;
    bool draining_ = false;
    bool aborting_ = false;
    uint64_t drain_deadline_ms_ = 0;
};

}  // namespace lbd
