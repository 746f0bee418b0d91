// The reload transaction (the diagram is in daemon.h).
#include "core/base/log.h"
#include "core/config/config_loader.h"
#include "core/daemon/config_file.h"
#include "core/daemon/daemon.h"
#include "core/process/notify.h"

namespace lbd {
namespace {

// What a reload cannot change in the HA runtime: it is set up once.
bool ha_changed(const HaConfig& a, const HaConfig& b) {
    return a.enabled != b.enabled || a.node_id != b.node_id || a.cluster_id != b.cluster_id ||
           a.vrrp.virtual_ips != b.vrrp.virtual_ips || a.vrrp.notify_fifo != b.vrrp.notify_fifo ||
           a.vrrp.track_file != b.vrrp.track_file || a.vrrp.track_process != b.vrrp.track_process ||
           !(a.sync.listen == b.sync.listen) ||
           !(a.sync.peer == b.sync.peer) || a.sync.key_file != b.sync.key_file ||
           a.sync.heartbeat_ms != b.sync.heartbeat_ms;
}

bool admin_changed(const AdminConfig& a, const AdminConfig& b) {
    return a.socket_path != b.socket_path || a.socket_group != b.socket_group || a.http_token != b.http_token ||
           a.http_bind.has_value() != b.http_bind.has_value() || (a.http_bind && !(*a.http_bind == *b.http_bind));
}

}  // namespace

void Daemon::reload(::lbd::v1::ReloadReply& reply) {
    process::ReloadNotice reload_notice;  // systemd: RELOADING=1 now, READY=1 on return
    // A refused reload names the configuration that keeps running.
    auto reject = [&](const std::string& why) {
        reply.add_errors(why);
        reply.set_config_sha256(config_sha256_);
        ++reloads_rejected_;
        LOG_WARN("reload rejected, still running the previous config: %s", why.c_str());
    };
    if (draining_) return reject("lbd is stopping");
    // Hashed before parsing: the hash names the bytes that were loaded,
    // even if the file changes again afterwards.
    std::string loaded_sha256 = file_sha256(config_path_);
    ConfigLoadResult loaded = load_config_file(config_path_);
    if (!loaded.errors.empty()) {
        for (const ConfigError& e : loaded.errors) reply.add_errors(e.to_string());
        reply.set_config_sha256(config_sha256_);
        ++reloads_rejected_;
        LOG_WARN("reload rejected (%zu errors), still running the previous config; first: %s", loaded.errors.size(),
                 loaded.errors.front().to_string().c_str());
        return;
    }
    const GlobalConfig& now = current_->config.global;
    GlobalConfig& next_global = loaded.config->global;
    if (next_global.workers != now.workers) {
        reply.add_needs_restart("workers");
        next_global.workers = now.workers;
    }
    if (admin_changed(now.admin, next_global.admin)) {
        reply.add_needs_restart("admin");
        // As for workers: the running configuration keeps what runs, so a
        // later reload compares with it (a file changed back needs nothing)
        // and the status reports the admin plane as it is.
        next_global.admin = now.admin;
    }
    if (ha_changed(now.ha, next_global.ha)) reply.add_needs_restart("ha");

    // Built beside the running one: nothing running changes until every tier
    // has prepared (switch_tiers activates the pools then).
    auto next = std::make_shared<Runtime>(std::move(*loaded.config), current_.get());
    // Every tier prepares before any switches: a socket or certificate that
    // fails in one tier leaves all of them on the running configuration.
    std::string error;
    if (!switch_tiers(next, &error)) return reject(error);
    // The tiers hand the new listeners to the workers by posted tasks: wait
    // for them, so that "applied" (and lbctl reload returning) means every
    // new connection gets the new configuration.
    if (!await_posted_tasks(workers_, 5000)) LOG_WARN("reload: a worker took over 5 s to switch listeners");
    // Health checks restart on the new pools; kept servers keep their state.
    health_ = std::make_unique<HealthChecker>(control_.get(), next->pools);
    health_->start();
    current_ = std::move(next);
    // Names are watched in the new pools (resolved again at this load).
    names_->watch(current_->config, current_->pools);
    set_log_level(current_->config.global.log_level);
    ++reloads_applied_;
    reply.set_applied(true);
    config_sha256_ = loaded_sha256;
    reply.set_config_sha256(config_sha256_);
    for (const auto& what : reply.needs_restart())
        LOG_WARN("reload: the change of '%s' takes effect only after a restart", what.c_str());
    LOG_INFO("reload applied: config %s (sha256 %s)", config_path_.c_str(), reply.config_sha256().c_str());
}

}  // namespace lbd
