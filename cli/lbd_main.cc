// lbd: the appliance daemon. This file only wires the parts together:
// config -> pools -> workers -> tiers -> health checks -> signals.
//
// Threads: the main thread runs the control loop (signals, health checks,
// drain); each worker runs its own loop with its share of the connections.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/balancer.h"
#include "core/config_loader.h"
#include "core/event.h"
#include "core/health_checker.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/worker.h"
#include "l4/l4_tier.h"

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
    Daemon(Config config) : config_(std::move(config)), pools_(config_) {}

    int run() {
        control_.reset(event_base_new());
        for (unsigned i = 0; i < config_.global.workers; ++i) workers_.push_back(std::make_unique<Worker>(i));
        std::vector<Worker*> worker_ptrs;
        for (auto& w : workers_) worker_ptrs.push_back(w.get());

        l4_ = std::make_unique<l4::L4Tier>(config_, pools_, worker_ptrs);
        std::string error;
        if (!l4_->bind_listeners(&error)) {
            LOG_ERROR("%s", error.c_str());
            return 1;
        }
        health_ = std::make_unique<HealthChecker>(control_.get(), pools_);
        health_->start();
        for (auto& w : workers_) w->start();

        sigterm_ = make_event(control_.get(), SIGTERM, EV_SIGNAL | EV_PERSIST, &Daemon::on_stop_signal, this);
        sigint_ = make_event(control_.get(), SIGINT, EV_SIGNAL | EV_PERSIST, &Daemon::on_stop_signal, this);
        sighup_ = make_event(control_.get(), SIGHUP, EV_SIGNAL | EV_PERSIST, &Daemon::on_hup, this);
        event_add(sigterm_.get(), nullptr);
        event_add(sigint_.get(), nullptr);
        event_add(sighup_.get(), nullptr);
        drain_timer_ = make_event(control_.get(), -1, EV_PERSIST, &Daemon::on_drain_tick, this);

        LOG_INFO("lbd ready: %zu listeners, %u workers, pid %d", config_.listeners.size(), config_.global.workers,
                 static_cast<int>(getpid()));
        event_base_dispatch(control_.get());

        for (auto& w : workers_) w->stop();
        for (auto& w : workers_) w->join();
        // Tier state holds events of the workers' bases: free it first.
        l4_.reset();
        health_.reset();
        workers_.clear();
        LOG_INFO("lbd stopped");
        return 0;
    }

private:
    static void on_stop_signal(evutil_socket_t sig, short, void* arg) {
        auto* self = static_cast<Daemon*>(arg);
        if (self->draining_) {
            LOG_WARN("signal %d during drain: closing every connection now", static_cast<int>(sig));
            self->abort_connections();
            return;
        }
        self->draining_ = true;
        self->drain_deadline_ms_ = monotonic_ms() + self->config_.global.drain_timeout_ms;
        self->l4_->stop_accepting();
        LOG_INFO("signal %d: stopped accepting, draining %llu connections (deadline %u ms)", static_cast<int>(sig),
                 static_cast<unsigned long long>(self->l4_->active_connections()),
                 self->config_.global.drain_timeout_ms);
        // Checked every 50 ms: a drain lasts seconds, and a tick is cheaper
        // than having every connection's end report to the control thread.
        timeval tick{0, 50 * 1000};
        event_add(self->drain_timer_.get(), &tick);
        on_drain_tick(-1, 0, self);
    }

    static void on_hup(evutil_socket_t, short, void*) {
        LOG_WARN("SIGHUP: configuration reload is not available in this version; restart lbd to apply changes");
    }

    static void on_drain_tick(evutil_socket_t, short, void* arg) {
        auto* self = static_cast<Daemon*>(arg);
        if (self->l4_->active_connections() == 0) {
            event_base_loopbreak(self->control_.get());
            return;
        }
        if (!self->aborting_ && monotonic_ms() >= self->drain_deadline_ms_) {
            LOG_WARN("drain deadline passed: closing %llu connections",
                     static_cast<unsigned long long>(self->l4_->active_connections()));
            self->abort_connections();
        }
    }

    void abort_connections() {
        aborting_ = true;
        l4_->abort_all(l4::EndReason::kDrainTimeout);
    }

    Config config_;
    PoolSet pools_;
    EventBasePtr control_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<l4::L4Tier> l4_;
    std::unique_ptr<HealthChecker> health_;
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
    app.set_version_flag("-v,--version", "lbd " LBD_VERSION);
    CLI11_PARSE(app, argc, argv);

    lbd::register_builtin_balancers();
    lbd::ConfigLoadResult loaded = lbd::load_config_file(config_path);
    if (!loaded.errors.empty()) {
        print_errors(loaded.errors);
        std::fprintf(stderr, "configuration file %s has %zu error(s)\n", config_path.c_str(), loaded.errors.size());
        return 1;
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
    Daemon daemon(std::move(*loaded.config));
    return daemon.run();
}
