#include "l4/l4_tier.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/admin/admin_http.h"
#include "core/tier/tcp_listener.h"
#include "core/base/log.h"
#include "l4/l4_worker.h"
#include "l4/splice_session.h"
#include "l4/l4_listener.h"

namespace lbd::l4 {

const char* to_string(EndReason reason) {
    switch (reason) {
        case EndReason::kClosed: return "closed";
        case EndReason::kClientReset: return "client_reset";
        case EndReason::kServerReset: return "server_reset";
        case EndReason::kIdleTimeout: return "idle_timeout";
        case EndReason::kConnectFailed: return "connect_failed";
        case EndReason::kNoServer: return "no_server";
        case EndReason::kQueueFull: return "queue_full";
        case EndReason::kQueueTimeout: return "queue_timeout";
        case EndReason::kProxyHeaderInvalid: return "proxy_header_invalid";
        case EndReason::kProxyHeaderTimeout: return "proxy_header_timeout";
        case EndReason::kUntrustedSource: return "untrusted_source";
        case EndReason::kDrainTimeout: return "drain_timeout";
        case EndReason::kInternalError: return "internal_error";
        case EndReason::kCount: break;
    }
    return "?";
}

// One TCP listener of the next configuration: its new sockets (one per
// worker), or none when the current socket is kept.
struct L4Tier::Plan : ListenerSockets {
    Pool* pool = nullptr;
    ListenerStats* stats = nullptr;  // set on the control thread: workers never read slots_
};

L4Tier::L4Tier(const std::vector<Worker*>& workers, const GlobalConfig& global) : workers_(workers) {
    for (Worker* worker : workers_) worker_state_.push_back(std::make_unique<L4Worker>(*worker, global));
}

L4Tier::~L4Tier() = default;

bool L4Tier::prepare(const Runtime& next, std::vector<Plan>& plans, std::string* error) {
    for (const ListenerConfig& lc : next.config.listeners) {
        if (lc.mode != ListenerMode::kTcp) continue;
        Plan& plan = plans.emplace_back();
        plan.pool = next.pools.find(lc.pool);
        if (plan.pool == nullptr) {
            *error = "listener " + lc.name + ": unknown pool " + lc.pool;
            return false;
        }
        if (!plan_listener_sockets(lc, current_ ? &current_->config : nullptr, worker_state_.size(), plan, error))
            return false;
        if (plan.kept) plan.bound = slots_[lc.name].bound;
    }
    return true;
}

bool L4Tier::start(RuntimePtr runtime, std::string* error) {
    std::vector<Plan> plans;
    if (!prepare(*runtime, plans, error)) return false;
    for (Plan& plan : plans) {
        Slot& slot = slots_[plan.config->name];
        slot.configured = plan.config->bind;
        slot.bound = plan.bound;
        for (size_t i = 0; i < worker_state_.size(); ++i) {
            L4Worker& w = *worker_state_[i];
            auto listener = std::make_shared<L4Listener>(w, runtime, *plan.config, *plan.pool, *slot.stats,
                                                          std::move(plan.fds[i]));
            listener->start();
            w.add_listener(std::move(listener));
        }
        LOG_INFO("listener %s bound %s (mode tcp)", plan.config->name.c_str(), plan.bound.to_string().c_str());
    }
    current_ = std::move(runtime);
    return true;
}

bool L4Tier::reload(RuntimePtr next, std::string* error) {
    auto plans = std::make_shared<std::vector<Plan>>();
    if (!prepare(*next, *plans, error)) return false;  // the sockets opened so far close here

    for (Plan& plan : *plans) {
        Slot& slot = slots_[plan.config->name];
        slot.configured = plan.config->bind;
        slot.bound = plan.bound;
        plan.stats = slot.stats.get();
        LOG_INFO("listener %s %s %s (mode tcp)", plan.config->name.c_str(), plan.kept ? "kept" : "bound",
                 plan.bound.to_string().c_str());
    }
    for (size_t i = 0; i < worker_state_.size(); ++i) {
        L4Worker* w = worker_state_[i].get();
        // Runs on worker i: only that worker touches its listeners.
        w->worker().post([w, i, next, plans] {
            std::vector<std::shared_ptr<L4Listener>> fresh;
            for (Plan& plan : *plans) {
                UniqueFd released;
                if (auto old = plan.kept ? w->find_listener(plan.config->name) : nullptr) released = old->release_fd();
                UniqueFd fd = plan.take(i, std::move(released));
                if (!fd) continue;
                auto listener = std::make_shared<L4Listener>(*w, next, *plan.config, *plan.pool, *plan.stats,
                                                              std::move(fd));
                listener->start();
                fresh.push_back(std::move(listener));
            }
            w->replace_listeners(std::move(fresh), next->config.global);
        });
    }
    current_ = std::move(next);
    return true;
}

void L4Tier::stop_accepting() {
    for (auto& state : worker_state_) {
        L4Worker* w = state.get();
        w->worker().post([w] { w->stop_accepting(); });
    }
}

void L4Tier::abort_all(EndReason reason) {
    for (auto& state : worker_state_) {
        L4Worker* w = state.get();
        w->worker().post([w, reason] { w->abort_all(reason); });
    }
}

uint64_t L4Tier::active_connections() const {
    uint64_t total = 0;
    for (const auto& [name, slot] : slots_) total += slot.stats->active.load(std::memory_order_relaxed);
    return total;
}

std::optional<SocketAddress> L4Tier::bound_address(const std::string& listener_name) const {
    auto it = slots_.find(listener_name);
    if (it == slots_.end()) return std::nullopt;
    return it->second.bound;
}

const ListenerStats* L4Tier::stats(const std::string& listener_name) const {
    auto it = slots_.find(listener_name);
    return it == slots_.end() ? nullptr : it->second.stats.get();
}

void L4Tier::write_metrics(std::string& out) const {
    write_histograms(out);
    metric_header(out, "lbd_listener_connections_accepted_total", "counter", "Connections accepted.");
    for (const ListenerConfig& lc : current_->config.listeners)
        if (const ListenerStats* s = lc.mode == ListenerMode::kTcp ? stats(lc.name) : nullptr)
            metric_sample(out, "lbd_listener_connections_accepted_total", {{"listener", lc.name}}, double(s->accepted.load()));
    metric_header(out, "lbd_listener_connections_active", "gauge", "Connections open now.");
    for (const ListenerConfig& lc : current_->config.listeners)
        if (const ListenerStats* s = lc.mode == ListenerMode::kTcp ? stats(lc.name) : nullptr)
            metric_sample(out, "lbd_listener_connections_active", {{"listener", lc.name}}, double(s->active.load()));
    metric_header(out, "lbd_listener_connections_ended_total", "counter",
                  "Connections closed, by how they ended (the end= of the connection log line).");
    for (const ListenerConfig& lc : current_->config.listeners) {
        const ListenerStats* s = lc.mode == ListenerMode::kTcp ? stats(lc.name) : nullptr;
        if (s == nullptr) continue;
        for (size_t i = 0; i < static_cast<size_t>(EndReason::kCount); ++i)
            metric_sample(out, "lbd_listener_connections_ended_total",
                          {{"listener", lc.name}, {"end", to_string(static_cast<EndReason>(i))}}, double(s->ended[i].load()));
    }
}

void L4Tier::write_histograms(std::string& out) const {
    metric_header(out, "lbd_listener_connection_duration_seconds", "histogram",
                  "How long connections stayed open, from accept to close.");
    for (const ListenerConfig& lc : current_->config.listeners)
        if (const ListenerStats* s = lc.mode == ListenerMode::kTcp ? stats(lc.name) : nullptr)
            s->duration.write(out, "lbd_listener_connection_duration_seconds", "listener=\"" + lc.name + "\"");
}

void L4Tier::fill_stats(::lbd::v1::StatsReply& reply) const {
    for (const ListenerConfig& lc : current_->config.listeners) {
        if (lc.mode != ListenerMode::kTcp) continue;
        const ListenerStats* s = stats(lc.name);
        if (s == nullptr) continue;
        auto* info = reply.add_listeners();
        info->set_name(lc.name);
        info->set_accepted(s->accepted.load(std::memory_order_relaxed));
        info->set_active(s->active.load(std::memory_order_relaxed));
        for (size_t i = 0; i < static_cast<size_t>(EndReason::kCount); ++i)
            (*info->mutable_ended())[to_string(static_cast<EndReason>(i))] = s->ended[i].load(std::memory_order_relaxed);
    }
}

}  // namespace lbd::l4
