#include "core/daemon/daemon.h"

#include <unistd.h>

#include <csignal>

#include "core/admin/admin_cache.h"
#include "core/admin/acl_commands.h"
#include "core/admin/admin_commands.h"
#include "core/admin/metrics.h"
#include "core/base/log.h"
#include "core/config/config_loader.h"
#include "core/daemon/config_file.h"
#include "core/process/notify.h"
#include "core/process/privileges.h"
#include "core/tier/worker_spread.h"

namespace lbd {

Daemon::Daemon(Config config, DaemonParts parts)
    : parts_(std::move(parts)),
      current_(std::make_shared<Runtime>(std::move(config), nullptr)),
      config_path_(absolute_path(current_->config.source_path)),
      config_sha256_(file_sha256(config_path_)),
      start_ms_(monotonic_ms()) {}

Daemon::~Daemon() = default;

int Daemon::run() {
    const GlobalConfig& global = current_->config.global;
    control_.reset(event_base_new());
    for (unsigned i = 0; i < global.workers; ++i) {
        workers_.push_back(std::make_unique<Worker>(i));
        if (parts_.release_free_memory)
            workers_.back()->release_when_quiet(global.memory_release_idle_ms, parts_.release_free_memory);
    }
    std::vector<Worker*> worker_ptrs;
    for (auto& w : workers_) worker_ptrs.push_back(w.get());
    tiers_ = parts_.make_tiers(worker_ptrs, global);

    std::string error;
    // Every socket is bound: root is not needed any more (before the
    // worker threads start, as capabilities are per thread).
    if (!start_tiers(&error) || !start_pair(&error) || !start_admin(&error) ||
        !process::drop_privileges({global.user, global.group}, &error)) {
        LOG_ERROR("%s", error.c_str());
        return 1;
    }
    health_ = std::make_unique<HealthChecker>(control_.get(), current_->pools);
    health_->start();
    names_ = std::make_unique<ServerNames>(control_.get(), [this] { health_->sync(); });
    names_->watch(current_->config, current_->pools);
    for (auto& w : workers_) w->start();

    sigterm_ = make_event(control_.get(), SIGTERM, EV_SIGNAL | EV_PERSIST, &Daemon::on_stop_signal, this);
    sigint_ = make_event(control_.get(), SIGINT, EV_SIGNAL | EV_PERSIST, &Daemon::on_stop_signal, this);
    sighup_ = make_event(control_.get(), SIGHUP, EV_SIGNAL | EV_PERSIST, &Daemon::on_hup, this);
    event_add(sigterm_.get(), nullptr);
    event_add(sigint_.get(), nullptr);
    event_add(sighup_.get(), nullptr);
    drain_timer_ = make_event(control_.get(), -1, EV_PERSIST, &Daemon::on_drain_tick, this);

    LOG_INFO("lbd ready: %zu listeners, %u workers, pid %d, %s", current_->config.listeners.size(), global.workers,
             static_cast<int>(getpid()), parts_.allocator.c_str());
    process::notify_ready();
    event_base_dispatch(control_.get());

    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
    // Tier state holds events of the workers' bases: free it first.
    admin_http_.reset();
    admin_.reset();
    pair_.reset();
    tiers_.clear();
    names_.reset();
    health_.reset();
    workers_.clear();
    LOG_INFO("lbd stopped");
    return 0;
}

// The first configuration goes live the way a reload's does: every tier
// prepares, then every tier commits (before the workers start).
bool Daemon::start_tiers(std::string* error) { return switch_tiers(current_, error); }

bool Daemon::switch_tiers(const RuntimePtr& next, std::string* error) {
    std::vector<std::unique_ptr<Tier::Plan>> plans;
    for (auto& tier : tiers_) {
        plans.push_back(tier->prepare(next, error));
        // Dropping the plans made so far closes the sockets they opened, and
        // `next`'s pools were never activated: no running server changed.
        if (plans.back() == nullptr) return false;
    }
    // Past the point of no return: kept servers take the new settings, and
    // new stick tables report to the sync before any worker can use them.
    next->pools.activate();
    if (pair_) pair_->watch(next->pools);
    for (size_t i = 0; i < tiers_.size(); ++i) tiers_[i]->commit(std::move(plans[i]));
    return true;
}

// The HA pair's runtime, when global.ha is set. Before workers start: it
// observes servers and stick tables from their first change.
bool Daemon::start_pair(std::string* error) {
    const HaConfig& ha = current_->config.global.ha;
    if (!ha.enabled) return true;
    pair_ = parts_.make_pair(control_.get(), ha, [this]() -> PoolSet& { return current_->pools; });
    pair_->watch(current_->pools);
    pair_->set_hand_over([this](std::shared_ptr<const std::vector<std::string>> addresses, uint32_t drain_timeout_ms) {
        for (auto& tier : tiers_) tier->hand_over(addresses, drain_timeout_ms);
    });
    // The peer's purges, on the control thread: current_ is the running
    // configuration's runtime there (a reload swaps it on this thread too).
    pair_->set_apply_purge([this](const ::lbd::v1::CachePurgeRequest& request) {
        int64_t removed = purge_cache(current_->caches, request);
        if (removed < 0) {
            LOG_WARN("ha: the peer purged cache zone '%s', which this node does not have", request.zone().c_str());
        } else {
            const std::string what = request.tag().empty() ? request.target() : "tag " + request.tag();
            LOG_INFO("ha: cache purge from the peer: zone %s, %s%s, %lld objects removed", request.zone().c_str(),
                     what.c_str(), request.prefix() ? " (prefix)" : "", static_cast<long long>(removed));
        }
    });
    return pair_->start(error);
}

void Daemon::register_pair_commands() {
    if (pair_) return pair_->register_admin_commands(admin_registry_);
    admin_registry_.add(AdminRequest::kHaStatus, [](const AdminRequest&, AdminResponse& response) {
        response.mutable_ha_status()->set_enabled(false);
    });
    auto standalone = [](const AdminRequest&, AdminResponse& response) {
        admin_error(response, ::lbd::v1::AdminError::FAILED_PRECONDITION,
                    "this node is standalone: its config has no global.ha block");
    };
    admin_registry_.add(AdminRequest::kHaFailover, standalone);
    admin_registry_.add(AdminRequest::kHaKeepalivedConfig, standalone);
}

bool Daemon::start_admin(std::string* error) {
    register_pool_commands(
        admin_registry_, [this]() -> PoolSet& { return current_->pools; }, [this] { health_->sync(); },
        [this](const std::shared_ptr<Server>& server) {
            size_t closed = 0;
            for (const auto& tier : tiers_) closed += tier->close_idle_connections(server);
            return closed;
        });
    // A purge made here goes to the HA peer too (a standalone node has no pair_).
    register_cache_commands(
        admin_registry_, [this]() -> const CacheZones& { return current_->caches; },
        [this](const ::lbd::v1::CachePurgeRequest& request) {
            if (pair_) pair_->share_purge(request);
        });
    register_acl_commands(admin_registry_, [this]() -> AclLists& { return current_->acl_lists; });
    // lbctl stats: each tier's listeners, in tier order (TCP, then HTTP).
    admin_registry_.add(AdminRequest::kStats, [this](const AdminRequest&, AdminResponse& response) {
        for (const auto& tier : tiers_) tier->fill_stats(*response.mutable_stats());
    });
    register_pair_commands();
    admin_registry_.add(AdminRequest::kStatus, [this](const AdminRequest&, AdminResponse& response) {
        describe(*response.mutable_status());
    });
    admin_registry_.add(AdminRequest::kReload, [this](const AdminRequest&, AdminResponse& response) {
        reload(*response.mutable_reload());
    });
    const AdminConfig& admin = current_->config.global.admin;
    if (!admin.socket_path.empty()) {
        admin_ = std::make_unique<AdminServer>(control_.get(), admin_registry_);
        if (!admin_->start(admin, error)) return false;
    }
    if (admin.http_bind) {
        admin_http_ = std::make_unique<AdminHttp>(control_.get(), admin_registry_, admin.http_token);
        admin_http_->add_metrics([this](std::string& out) { write_daemon_metrics(out); });
        for (const auto& tier : tiers_) {
            Tier* t = tier.get();
            admin_http_->add_metrics([t](std::string& out) { t->write_metrics(out); });
        }
        admin_http_->add_metrics([this](std::string& out) { write_pool_metrics(current_->pools, out); });
        if (pair_) admin_http_->add_metrics([this](std::string& out) { pair_->write_metrics(out); });
        admin_http_->add_metrics(&write_process_metrics);
        if (!admin_http_->start(*admin.http_bind, error)) return false;
    }
    return true;
}

uint32_t Daemon::worker_connections(unsigned worker) const {
    uint32_t open = 0;
    for (const auto& tier : tiers_) open += tier->spread().connections(worker);
    return open;
}

uint64_t Daemon::worker_handed(unsigned worker) const {
    uint64_t handed = 0;
    for (const auto& tier : tiers_) handed += tier->spread().handed_to(worker);
    return handed;
}

void Daemon::write_daemon_metrics(std::string& out) const {
    metric_header(out, "lbd_build_info", "gauge", "Always 1; the version and the malloc in use are labels.");
    metric_sample(out, "lbd_build_info", {{"version", parts_.version}, {"malloc", parts_.allocator}}, 1);
    metric_header(out, "lbd_uptime_seconds", "gauge", "Seconds since lbd started.");
    metric_sample(out, "lbd_uptime_seconds", {}, double(monotonic_ms() - start_ms_) / 1000.0);
    metric_header(out, "lbd_workers", "gauge", "Worker threads.");
    metric_sample(out, "lbd_workers", {}, current_->config.global.workers);
    // The tiers' client connections per worker, and what evened them out (core/tier/worker_spread.h).
    metric_header(out, "lbd_worker_connections", "gauge", "Client connections open on each worker, all tiers.");
    for (unsigned i = 0; i < workers_.size(); ++i)
        metric_sample(out, "lbd_worker_connections", {{"worker", std::to_string(i)}}, double(worker_connections(i)));
    metric_header(out, "lbd_worker_connections_handed_total", "counter",
                  "Connections a worker took over from a busier worker's accept queue.");
    for (unsigned i = 0; i < workers_.size(); ++i)
        metric_sample(out, "lbd_worker_connections_handed_total", {{"worker", std::to_string(i)}},
                      double(worker_handed(i)));
    metric_header(out, "lbd_worker_memory_releases_total", "counter",
                  "Times a worker gave its allocator's free memory back to the kernel once quiet.");
    for (unsigned i = 0; i < workers_.size(); ++i)
        metric_sample(out, "lbd_worker_memory_releases_total", {{"worker", std::to_string(i)}},
                      double(workers_[i]->quiet_releases()));
    metric_header(out, "lbd_reloads_total", "counter", "Reloads by result.");
    metric_sample(out, "lbd_reloads_total", {{"result", "applied"}}, double(reloads_applied_));
    metric_sample(out, "lbd_reloads_total", {{"result", "rejected"}}, double(reloads_rejected_));
    if (!pair_) {
        metric_header(out, "lbd_ha_role", "gauge", "1 for the node's role in the HA pair.");
        metric_sample(out, "lbd_ha_role", {{"role", "standalone"}}, 1);
    }
}

Tier* Daemon::tier_for(ListenerMode mode) const {
    for (const auto& tier : tiers_)
        if (tier->mode() == mode) return tier.get();
    return nullptr;
}

void Daemon::describe(::lbd::v1::StatusReply& out) const {
    const Config& config = current_->config;
    out.set_version(parts_.version);
    out.set_uptime_ms(monotonic_ms() - start_ms_);
    out.set_config_path(config_path_);
    out.set_config_sha256(config_sha256_);
    out.set_workers(config.global.workers);
    for (unsigned i = 0; i < workers_.size(); ++i) out.add_worker_connections(worker_connections(i));
    out.set_role(pair_ ? pair_->role_name() : "standalone");
    out.set_pid(static_cast<uint32_t>(getpid()));
    out.set_http_writes_enabled(!config.global.admin.http_token.empty());
    for (const ListenerConfig& lc : config.listeners) {
        auto* info = out.add_listeners();
        info->set_name(lc.name);
        info->set_pool(lc.pool);
        if (Tier* tier = tier_for(lc.mode)) tier->describe(lc, *info);
    }
}

void Daemon::on_stop_signal(evutil_socket_t sig, short, void* arg) {
    auto* self = static_cast<Daemon*>(arg);
    if (self->draining_) {
        LOG_WARN("signal %d during drain: closing every connection now", static_cast<int>(sig));
        self->abort_connections();
        return;
    }
    self->begin_drain(static_cast<int>(sig));
}

void Daemon::begin_drain(int signal) {
    draining_ = true;
    process::notify_stopping();
    // The VIP leaves first, so the peer takes new clients while we drain.
    if (pair_) pair_->begin_shutdown();
    drain_deadline_ms_ = monotonic_ms() + current_->config.global.drain_timeout_ms;
    for (const auto& tier : tiers_) tier->stop_accepting();
    LOG_INFO("signal %d: stopped accepting, draining %llu connections (deadline %u ms)", signal,
             static_cast<unsigned long long>(active_connections()), current_->config.global.drain_timeout_ms);
    // Checked every 50 ms: a drain lasts seconds, and a tick is cheaper
    // than having every connection's end report to the control thread.
    timeval tick{0, 50 * 1000};
    event_add(drain_timer_.get(), &tick);
    on_drain_tick(-1, 0, this);
}

void Daemon::on_hup(evutil_socket_t, short, void* arg) {
    LOG_INFO("SIGHUP: reloading %s", static_cast<Daemon*>(arg)->config_path_.c_str());
    ::lbd::v1::ReloadReply reply;
    static_cast<Daemon*>(arg)->reload(reply);
}

void Daemon::on_drain_tick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Daemon*>(arg);
    if (self->active_connections() == 0) {
        event_base_loopbreak(self->control_.get());
        return;
    }
    if (!self->aborting_ && monotonic_ms() >= self->drain_deadline_ms_) {
        LOG_WARN("drain deadline passed: closing %llu connections",
                 static_cast<unsigned long long>(self->active_connections()));
        self->abort_connections();
    }
}

void Daemon::abort_connections() {
    aborting_ = true;
    for (const auto& tier : tiers_) tier->abort_all();
}

// What a drain waits for.
uint64_t Daemon::active_connections() const {
    uint64_t total = 0;
    for (const auto& tier : tiers_) total += tier->active_connections();
    return total;
}

}  // namespace lbd
