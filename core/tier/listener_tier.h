// The half of a tier that does not depend on what its connections are
// (Tier, tier.h): each listener's sockets planned across reloads (kept, or new
// ones for each worker), its counters kept by name for the life of the
// process, the per-worker listener sets switched by posted tasks, and what
// status reports of them. L4Tier and L7Tier are this shell plus how they make
// a listener and report their own counters.
//
// Parameters:
//   WorkerState  the tier's state on one worker: worker(), add_listener(),
//                find_listener(name), replace_listeners(next, global),
//                stop_accepting(), abort_all(), hand_over(addresses)
//   Listener     one listening socket on one worker: release_fd(), start(),
//                adopt(fd, peer) (a connection another worker handed over)
//   Stats        a listener's counters (accepted, active atomics at least),
//                shared by its listeners on every worker and kept across reloads
//   Shared       what one configuration's listeners share, built by
//                prepare_shared() (the L7 tier's TLS contexts)
//
// Thread rules: everything here runs on the control thread, except what the
// posted tasks run on each worker, which touches only that worker's state.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/log.h"
#include "core/config/config_loader.h"
#include "core/loop/worker.h"
#include "core/tier/tcp_listener.h"
#include "core/tier/tier.h"

namespace lbd {

template <class WorkerState, class Listener, class Stats, class Shared>
class ListenerTier : public Tier {
public:
    ListenerMode mode() const final { return mode_; }

    std::unique_ptr<Plan> prepare(const RuntimePtr& next, std::string* error) final {
        auto plan = std::make_unique<ConfigPlan>();
        plan->next = next;
        // What the listeners share first: a certificate that no longer loads changes nothing.
        plan->shared = prepare_shared(*next, error);
        if (plan->shared == nullptr) return nullptr;
        for (const ListenerConfig& config : next->config.listeners) {
            if (config.mode != mode_) continue;
            ListenerPlan& listener = plan->listeners.emplace_back();
            if (!plan_listener_sockets(config, current_ ? &current_->config : nullptr, workers_.size(), listener,
                                       error)) {
                // Named where the operator wrote it, as every config error is.
                *error = ConfigError{next->config.source_path, config.bind_line, config.bind_column, *error}.to_string();
                return nullptr;  // the sockets opened so far close with the plan
            }
            if (listener.kept) listener.bound = slots_[config.name].bound;
        }
        return plan;
    }

    void commit(std::unique_ptr<Plan> generic) final {
        std::shared_ptr<ConfigPlan> plan(static_cast<ConfigPlan*>(generic.release()));
        const bool first = current_ == nullptr;
        for (ListenerPlan& listener : plan->listeners) {
            Slot& slot = slots_[listener.config->name];
            slot.bound = listener.bound;
            listener.stats = slot.stats.get();
            LOG_INFO("listener %s %s %s (mode %s)", listener.config->name.c_str(), listener.kept ? "kept" : "bound",
                     listener.bound.to_string().c_str(), mode_label(*listener.config));
        }
        for (size_t i = 0; i < workers_.size(); ++i) {
            WorkerState* w = workers_[i].get();
            // Runs on worker i (or here, before the workers start): only that
            // worker touches its listeners.
            auto switch_listeners = [this, w, i, plan] {
                std::vector<std::shared_ptr<Listener>> fresh;
                for (ListenerPlan& listener : plan->listeners) {
                    UniqueFd released;
                    if (auto old = listener.kept ? w->find_listener(listener.config->name) : nullptr)
                        released = old->release_fd();
                    UniqueFd fd = listener.take(i, std::move(released));
                    if (!fd) continue;
                    auto made = make_listener(*w, plan->next, plan->shared, *listener.config, *listener.stats,
                                              std::move(fd), accept_spread(i, *listener.config, *listener.stats));
                    made->start();
                    fresh.push_back(std::move(made));
                }
                w->replace_listeners(std::move(fresh), plan->next->config.global);
            };
            if (first)
                switch_listeners();
            else
                w->worker().post(std::move(switch_listeners));
        }
        current_ = plan->next;
    }

    void stop_accepting() final {
        for (auto& state : workers_) {
            WorkerState* w = state.get();
            w->worker().post([w] { w->stop_accepting(); });
        }
    }

    void abort_all() final {
        for (auto& state : workers_) {
            WorkerState* w = state.get();
            w->worker().post([w] { w->abort_all(); });
        }
    }

    void hand_over(std::shared_ptr<const std::vector<std::string>> addresses, uint32_t drain_timeout_ms) final {
        for (auto& state : workers_) {
            WorkerState* w = state.get();
            w->worker().post([w, addresses, drain_timeout_ms] { w->hand_over(*addresses, drain_timeout_ms); });
        }
    }

    uint64_t active_connections() const final {
        uint64_t total = 0;
        for (const auto& [name, slot] : slots_) total += slot.stats->active.load(std::memory_order_relaxed);
        return total;
    }

    const WorkerSpread& spread() const final { return spread_; }

    void describe(const ListenerConfig& config, ::lbd::v1::ListenerInfo& out) const final {
        auto it = slots_.find(config.name);
        out.set_bind((it != slots_.end() ? it->second.bound : config.bind).to_string());
        out.set_mode(mode_label(config));
        if (it == slots_.end()) return;
        out.set_active_connections(it->second.stats->active.load(std::memory_order_relaxed));
        out.set_accepted_connections(it->second.stats->accepted.load(std::memory_order_relaxed));
    }

protected:
    ListenerTier(ListenerMode mode, std::vector<std::unique_ptr<WorkerState>> workers)
        : mode_(mode), spread_(workers.size()), workers_(std::move(workers)) {}

    // What the listeners of `next` share; null with `error` when it cannot be built.
    virtual std::shared_ptr<const Shared> prepare_shared(const Runtime& next, std::string* error) = 0;
    // On the worker's thread: the listener of `config` on `fd`, not started
    // yet; its TcpListener takes `spread`.
    virtual std::shared_ptr<Listener> make_listener(WorkerState& worker, const RuntimePtr& runtime,
                                                    const std::shared_ptr<const Shared>& shared,
                                                    const ListenerConfig& config, Stats& stats, UniqueFd fd,
                                                    AcceptSpread spread) = 0;
    // The mode status and logs show: "tcp", "http", "https".
    virtual const char* mode_label(const ListenerConfig& config) const = 0;

    // The counters of listener `name`, if it ever ran.
    const Stats* stats(const std::string& name) const {
        auto it = slots_.find(name);
        return it == slots_.end() ? nullptr : it->second.stats.get();
    }
    // The running configuration (null before the first commit).
    const RuntimePtr& current() const { return current_; }
    // The running configuration's listeners of this tier, with their counters.
    template <class Fn>
    void for_each_listener(Fn&& fn) const {
        if (!current_) return;
        for (const ListenerConfig& config : current_->config.listeners)
            if (config.mode == mode_)
                if (const Stats* s = stats(config.name)) fn(config, *s);
    }

    std::vector<std::unique_ptr<WorkerState>>& workers() { return workers_; }

private:
    // What lbd knows of a listener across reloads: its counters continue.
    struct Slot {
        std::unique_ptr<Stats> stats = std::make_unique<Stats>();
        SocketAddress bound;  // with the port resolved
    };
    // One listener of the next configuration: new sockets (one per worker), or kept ones.
    struct ListenerPlan : ListenerSockets {
        Stats* stats = nullptr;  // set on the control thread: workers never read slots_
    };
    struct ConfigPlan : Plan {
        RuntimePtr next;
        std::shared_ptr<const Shared> shared;
        std::vector<ListenerPlan> listeners;
    };

    // How worker `worker`'s listener of `config` evens out its connections
    // with the other workers' listeners of the same name.
    AcceptSpread accept_spread(size_t worker, const ListenerConfig& config, Stats& stats) {
        auto hand_off = [this, name = config.name, &stats](size_t to, UniqueFd fd, const SocketAddress& peer) {
            WorkerState* target = workers_[to].get();
            // Shared, so that a task the stopped loop never runs still closes it.
            auto held = std::make_shared<UniqueFd>(std::move(fd));
            target->worker().post([this, target, to, name, &stats, held, peer] {
                if (auto listener = target->find_listener(name)) return listener->adopt(std::move(*held), peer);
                // A reload took the listener off that worker meanwhile: the
                // connection ends as if the kernel had never queued it.
                held->reset();
                stats.active.fetch_sub(1, std::memory_order_acq_rel);
                spread_.closed(to);
            });
        };
        return {spread_, worker, std::move(hand_off)};
    }

    const ListenerMode mode_;
    WorkerSpread spread_;  // before workers_: their connections report to it as they end
    std::vector<std::unique_ptr<WorkerState>> workers_;
    std::map<std::string, Slot> slots_;  // by listener name, never erased
    RuntimePtr current_;
};

}  // namespace lbd
