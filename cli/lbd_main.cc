// lbd: the appliance daemon. This file only wires the parts together:
// config -> pools -> workers -> tiers -> health checks -> signals.
//
// Threads: the main thread runs the control loop (signals, health checks,
// drain); each worker runs its own loop with its share of the connections.

#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/admin_commands.h"
#include "core/admin_http.h"
#include "core/metrics.h"
#include "core/admin_registry.h"
#include "core/admin_server.h"
#include "core/balancer.h"
#include "core/config_loader.h"
#include "core/event.h"
#include "core/health_checker.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/runtime.h"
#include "core/worker.h"
#include "ha/ha_node.h"
#include "ha/keepalived_config.h"
#include "ha/track_watchdog.h"
#include "l4/l4_tier.h"
#include "l7/l7_tier.h"
#include "l7/tls_setup.h"

#ifndef LBD_VERSION
#define LBD_VERSION "0.1.0"
#endif

namespace {

using namespace lbd;

// Stop sequence on SIGTERM/SIGINT:
//
//   RUNNING --signal--> DRAINING --no connection left--> STOPPED
//                          |  \--deadline or 2nd signal--> ABORTING --> STOPPED
class Daemon {
public:
    Daemon(Config config, std::string process_name)
        : current_(std::make_shared<Runtime>(std::move(config), nullptr)),
          process_name_(std::move(process_name)),
          config_path_(absolute_path(current_->config.source_path)),
          config_sha256_(file_sha256(config_path_)),
          start_ms_(monotonic_ms()) {}

    int run() {
        const GlobalConfig& global = current_->config.global;
        control_.reset(event_base_new());
        for (unsigned i = 0; i < global.workers; ++i) workers_.push_back(std::make_unique<Worker>(i));
        std::vector<Worker*> worker_ptrs;
        for (auto& w : workers_) worker_ptrs.push_back(w.get());

        l4_ = std::make_unique<l4::L4Tier>(worker_ptrs, global);
        l7_ = std::make_unique<l7::L7Tier>(worker_ptrs, global);
        std::string error;
        if (!l4_->start(current_, &error) || !l7_->start(current_, &error)) {
            LOG_ERROR("%s", error.c_str());
            return 1;
        }
        if (!start_ha(&error) || !start_admin(&error)) {
            LOG_ERROR("%s", error.c_str());
            return 1;
        }
        health_ = std::make_unique<HealthChecker>(control_.get(), current_->pools);
        health_->start();
        for (auto& w : workers_) w->start();

        sigterm_ = make_event(control_.get(), SIGTERM, EV_SIGNAL | EV_PERSIST, &Daemon::on_stop_signal, this);
        sigint_ = make_event(control_.get(), SIGINT, EV_SIGNAL | EV_PERSIST, &Daemon::on_stop_signal, this);
        sighup_ = make_event(control_.get(), SIGHUP, EV_SIGNAL | EV_PERSIST, &Daemon::on_hup, this);
        event_add(sigterm_.get(), nullptr);
        event_add(sigint_.get(), nullptr);
        event_add(sighup_.get(), nullptr);
        drain_timer_ = make_event(control_.get(), -1, EV_PERSIST, &Daemon::on_drain_tick, this);

        LOG_INFO("lbd ready: %zu listeners, %u workers, pid %d", current_->config.listeners.size(), global.workers,
                 static_cast<int>(getpid()));
        event_base_dispatch(control_.get());

        for (auto& w : workers_) w->stop();
        for (auto& w : workers_) w->join();
        // Tier state holds events of the workers' bases: free it first.
        admin_http_.reset();
        admin_.reset();
        ha_.reset();
        l4_.reset();
        l7_.reset();
        health_.reset();
        workers_.clear();
        LOG_INFO("lbd stopped");
        return 0;
    }

private:
    // The HA pair's runtime, when global.ha is set. Before workers start:
    // it observes servers and stick tables from their first change.
    bool start_ha(std::string* error) {
        const HaConfig& ha = current_->config.global.ha;
        if (!ha.enabled) return true;
        ha_ = std::make_unique<ha::HaNode>(control_.get(), ha, process_name_,
                                           [this]() -> PoolSet& { return current_->pools; });
        ha_->watch(current_->pools);
        return ha_->start(error);
    }

    void register_ha_commands() {
        if (ha_) return ha_->register_admin_commands(admin_registry_);
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

    bool start_admin(std::string* error) {
        register_pool_commands(
            admin_registry_, [this]() -> PoolSet& { return current_->pools; }, [this] { health_->sync(); });
        // lbctl stats: the TCP listeners, then the HTTP ones.
        admin_registry_.add(AdminRequest::kStats, [this](const AdminRequest&, AdminResponse& response) {
            l4_->fill_stats(*response.mutable_stats());
            l7_->fill_stats(*response.mutable_stats());
        });
        register_ha_commands();
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
            admin_http_->add_metrics([this](std::string& out) { l4_->write_metrics(out); });
            admin_http_->add_metrics([this](std::string& out) { l7_->write_metrics(out); });
            admin_http_->add_metrics([this](std::string& out) { write_pool_metrics(current_->pools, out); });
            if (ha_) admin_http_->add_metrics([this](std::string& out) { ha_->write_metrics(out); });
            admin_http_->add_metrics(&write_process_metrics);
            if (!admin_http_->start(*admin.http_bind, error)) return false;
        }
        return true;
    }

    void write_daemon_metrics(std::string& out) const {
        metric_header(out, "lbd_build_info", "gauge", "Always 1; the version is a label.");
        metric_sample(out, "lbd_build_info", {{"version", LBD_VERSION}}, 1);
        metric_header(out, "lbd_uptime_seconds", "gauge", "Seconds since lbd started.");
        metric_sample(out, "lbd_uptime_seconds", {}, double(monotonic_ms() - start_ms_) / 1000.0);
        metric_header(out, "lbd_workers", "gauge", "Worker threads.");
        metric_sample(out, "lbd_workers", {}, current_->config.global.workers);
        metric_header(out, "lbd_reloads_total", "counter", "Reloads by result.");
        metric_sample(out, "lbd_reloads_total", {{"result", "applied"}}, double(reloads_applied_));
        metric_sample(out, "lbd_reloads_total", {{"result", "rejected"}}, double(reloads_rejected_));
        if (!ha_) {
            metric_header(out, "lbd_ha_role", "gauge", "1 for the node's role in the HA pair.");
            metric_sample(out, "lbd_ha_role", {{"role", "standalone"}}, 1);
        }
    }

    // Reload sequence (control thread): read and check the file; on any
    // error keep running the current config and say why. Otherwise build
    // the next Runtime (kept servers and stick tables carry over), let the
    // L4 tier open new sockets (a failure there also leaves everything as it
    // was), then switch: workers swap listeners, health checks restart on
    // the new pools, and the old Runtime lives until its connections end.
    void reload(::lbd::v1::ReloadReply& reply) {
        auto reject = [&](const std::string& why) {
            reply.add_errors(why);
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
            ++reloads_rejected_;
            LOG_WARN("reload rejected (%zu errors), still running the previous config; first: %s",
                     loaded.errors.size(), loaded.errors.front().to_string().c_str());
            return;
        }
        const GlobalConfig& now = current_->config.global;
        GlobalConfig& next_global = loaded.config->global;
        if (next_global.workers != now.workers) {
            reply.add_needs_restart("workers");
            next_global.workers = now.workers;
        }
        if (next_global.admin.socket_path != now.admin.socket_path ||
            next_global.admin.http_bind.has_value() != now.admin.http_bind.has_value() ||
            (next_global.admin.http_bind && !(*next_global.admin.http_bind == *now.admin.http_bind)))
            reply.add_needs_restart("admin");
        if (ha_changed(now.ha, next_global.ha)) reply.add_needs_restart("ha");

        auto next = std::make_shared<Runtime>(std::move(*loaded.config), current_.get());
        // New stick tables report to the sync before workers can use them.
        if (ha_) ha_->watch(next->pools);
        std::string error;
        // The L4 tier switches first; if the L7 tier then fails to open a
        // socket, lbd runs the new TCP listeners with the old HTTP ones (and
        // says so): a socket failure past the bind probe is rare.
        if (!l4_->reload(next, &error)) return reject(error);
        if (!l7_->reload(next, &error)) LOG_ERROR("reload: HTTP listeners not changed: %s", error.c_str());
        // The tiers hand the new listeners to the workers by posted tasks:
        // wait for them, so that "applied" (and lbctl reload returning) means
        // every new connection gets the new configuration.
        if (!await_posted_tasks(workers_, 5000)) LOG_WARN("reload: a worker took over 5 s to switch listeners");
        // Health checks restart on the new pools; kept servers keep their state.
        health_ = std::make_unique<HealthChecker>(control_.get(), next->pools);
        health_->start();
        current_ = std::move(next);
        set_log_level(current_->config.global.log_level);
        ++reloads_applied_;
        reply.set_applied(true);
        config_sha256_ = loaded_sha256;
        reply.set_config_sha256(config_sha256_);
        for (const auto& what : reply.needs_restart())
            LOG_WARN("reload: the change of '%s' takes effect only after a restart", what.c_str());
        LOG_INFO("reload applied: config %s (sha256 %s)", config_path_.c_str(), reply.config_sha256().c_str());
    }

    void describe(::lbd::v1::StatusReply& out) const {
        const Config& config = current_->config;
        out.set_version(LBD_VERSION);
        out.set_uptime_ms(monotonic_ms() - start_ms_);
        out.set_config_path(config_path_);
        out.set_config_sha256(config_sha256_);
        out.set_workers(config.global.workers);
        out.set_role(ha_ ? ha::to_string(ha_->role()) : "standalone");
        out.set_pid(static_cast<uint32_t>(getpid()));
        out.set_http_writes_enabled(!config.global.admin.http_token.empty());
        for (const ListenerConfig& lc : config.listeners) {
            auto* info = out.add_listeners();
            info->set_name(lc.name);
            const bool tcp = lc.mode == ListenerMode::kTcp;
            auto bound = tcp ? l4_->bound_address(lc.name) : l7_->bound_address(lc.name);
            info->set_bind((bound ? *bound : lc.bind).to_string());
            info->set_mode(tcp ? "tcp" : lc.tls.enabled ? "https" : "http");
            info->set_pool(lc.pool);
            if (const l4::ListenerStats* stats = tcp ? l4_->stats(lc.name) : nullptr) {
                info->set_active_connections(stats->active.load(std::memory_order_relaxed));
                info->set_accepted_connections(stats->accepted.load(std::memory_order_relaxed));
            }
            if (const l7::HttpListenerStats* stats = tcp ? nullptr : l7_->stats(lc.name)) {
                info->set_active_connections(stats->active.load(std::memory_order_relaxed));
                info->set_accepted_connections(stats->accepted.load(std::memory_order_relaxed));
            }
        }
    }

    // What a reload cannot change in the HA runtime: it is set up once.
    static bool ha_changed(const HaConfig& a, const HaConfig& b) {
        return a.enabled != b.enabled || a.node_id != b.node_id || a.cluster_id != b.cluster_id ||
               a.vrrp.virtual_ips != b.vrrp.virtual_ips || a.vrrp.notify_fifo != b.vrrp.notify_fifo ||
               a.vrrp.track_file != b.vrrp.track_file || !(a.sync.listen == b.sync.listen) ||
               !(a.sync.peer == b.sync.peer) || a.sync.key_file != b.sync.key_file ||
               a.sync.heartbeat_ms != b.sync.heartbeat_ms;
    }

    static std::string absolute_path(const std::string& path) {
        std::error_code ec;
        auto absolute = std::filesystem::absolute(path, ec);
        return ec ? path : absolute.lexically_normal().string();
    }

    // Hex SHA-256 of a file, so an operator can tell which config runs.
    static std::string file_sha256(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        std::string data = bytes.str();
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) return "";
        std::string hex;
        char buf[3];
        for (unsigned int i = 0; i < len; ++i) {
            std::snprintf(buf, sizeof buf, "%02x", digest[i]);
            hex += buf;
        }
        return hex;
    }

    static void on_stop_signal(evutil_socket_t sig, short, void* arg) {
        auto* self = static_cast<Daemon*>(arg);
        if (self->draining_) {
            LOG_WARN("signal %d during drain: closing every connection now", static_cast<int>(sig));
            self->abort_connections();
            return;
        }
        self->draining_ = true;
        // The VIP leaves first, so the peer takes new clients while we drain.
        if (self->ha_) self->ha_->begin_shutdown();
        self->drain_deadline_ms_ = monotonic_ms() + self->current_->config.global.drain_timeout_ms;
        self->l4_->stop_accepting();
        self->l7_->stop_accepting();
        LOG_INFO("signal %d: stopped accepting, draining %llu connections (deadline %u ms)", static_cast<int>(sig),
                 static_cast<unsigned long long>(self->active_connections()),
                 self->current_->config.global.drain_timeout_ms);
        // Checked every 50 ms: a drain lasts seconds, and a tick is cheaper
        // than having every connection's end report to the control thread.
        timeval tick{0, 50 * 1000};
        event_add(self->drain_timer_.get(), &tick);
        on_drain_tick(-1, 0, self);
    }

    static void on_hup(evutil_socket_t, short, void* arg) {
        LOG_INFO("SIGHUP: reloading %s", static_cast<Daemon*>(arg)->config_path_.c_str());
        ::lbd::v1::ReloadReply reply;
        static_cast<Daemon*>(arg)->reload(reply);
    }

    static void on_drain_tick(evutil_socket_t, short, void* arg) {
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

    void abort_connections() {
        aborting_ = true;
        l4_->abort_all(l4::EndReason::kDrainTimeout);
        l7_->abort_all();
    }

    // Both tiers: what a drain waits for.
    uint64_t active_connections() const { return l4_->active_connections() + l7_->active_connections(); }

    RuntimePtr current_;
    std::string process_name_;
    std::string config_path_;
    std::string config_sha256_;  // of the bytes of the running config
    EventBasePtr control_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<l4::L4Tier> l4_;
    std::unique_ptr<l7::L7Tier> l7_;
    std::unique_ptr<HealthChecker> health_;
    std::unique_ptr<ha::HaNode> ha_;
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

void print_errors(const std::vector<ConfigError>& errors) {
    for (const ConfigError& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lbd: Layer 4/7 load-balancer appliance"};
    std::string config_path = "/etc/lbd/lbd.conf";
    bool check_only = false;
    app.add_option("-c,--config", config_path, "Configuration file (protobuf text format, schema lbd.v1.Config)")
        ->capture_default_str();
    app.add_flag("-t,--test", check_only, "Check the configuration (syntax, references, bindable addresses) and exit");
    bool render_keepalived = false;
    app.add_flag("--render-keepalived", render_keepalived,
                 "Print the keepalived.conf for this node (from global.ha) and exit");
    app.set_version_flag("-v,--version", "lbd " LBD_VERSION);
    CLI11_PARSE(app, argc, argv);

    // keepalived's track_process matches /proc/PID/comm: the name lbd was
    // started as (a symlink such as lbd-a gives each node of a netns test
    // its own), cut to the kernel's 15 characters.
    std::string process_name = std::filesystem::path(argv[0]).filename().string().substr(0, 15);

    lbd::register_builtin_balancers();
    // Certificates are loaded by the config loader too, so `lbd -t` and a
    // reload refuse one that does not load, naming its config line.
    lbd::l7::register_tls_config_checks();
    lbd::ConfigLoadResult loaded = lbd::load_config_file(config_path);
    if (!loaded.errors.empty()) {
        print_errors(loaded.errors);
        std::fprintf(stderr, "configuration file %s has %zu error(s)\n", config_path.c_str(), loaded.errors.size());
        return 1;
    }
    if (render_keepalived) {
        const lbd::HaConfig& ha = loaded.config->global.ha;
        if (!ha.enabled) {
            std::fprintf(stderr, "%s has no global.ha block: this node is not part of a pair\n", config_path.c_str());
            return 1;
        }
        lbd::ha::RenderOptions options;
        options.source_path = config_path;
        options.process_name = process_name;
        options.track_process = lbd::ha::track_process_wanted(ha.vrrp);
        std::fputs(lbd::ha::render_keepalived_config(ha, options).c_str(), stdout);
        return 0;
    }
    if (check_only) {
        auto bind_errors = lbd::check_listeners_bindable(*loaded.config);
        if (!bind_errors.empty()) {
            print_errors(bind_errors);
            return 1;
        }
        std::printf("configuration file %s is valid\n", config_path.c_str());
        return 0;
    }

    lbd::set_log_level(loaded.config->global.log_level);
    // A peer that closes while lbd writes must give EPIPE, not kill lbd.
    std::signal(SIGPIPE, SIG_IGN);
    // Read buffers of up to 64 KiB come and go with every request
    // (l7/socket_io.cc). With glibc's default trim threshold (128 KiB) the
    // free top of a worker's heap goes back to the kernel (madvise) and is
    // faulted in again by the next malloc, request after request: that cost
    // more than the proxying itself. Freed memory stays for reuse instead.
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    Daemon daemon(std::move(*loaded.config), process_name);
    return daemon.run();
}
