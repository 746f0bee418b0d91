#include "l4/l4_tier.h"

#include "core/admin_http.h"
#include "core/log.h"
#include "l4/l4_worker.h"
#include "l4/splice_session.h"
#include "l4/tcp_listener.h"

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

L4Tier::L4Tier(const Config& config, PoolSet& pools, const std::vector<Worker*>& workers)
    : config_(config), pools_(pools), workers_(workers) {
    for (Worker* worker : workers_) worker_state_.push_back(std::make_unique<L4Worker>(*worker, config.global));
}

L4Tier::~L4Tier() = default;

bool L4Tier::bind_listeners(std::string* error) {
    for (const ListenerConfig& lc : config_.listeners) {
        if (lc.mode != ListenerMode::kTcp) continue;
        Pool* pool = pools_.find(lc.pool);
        if (pool == nullptr) {
            *error = "listener " + lc.name + ": unknown pool " + lc.pool;
            return false;
        }
        auto& stats = stats_.emplace_back(std::make_unique<ListenerStats>());
        SocketAddress address = lc.bind;
        for (auto& state : worker_state_) {
            std::string why;
            UniqueFd fd = open_listen_socket(lc, address, &why);
            if (!fd) {
                *error = "listener " + lc.name + ": " + why;
                return false;
            }
            if (address.port() == 0) {
                // Port 0: the kernel chose one; the other workers join it.
                sockaddr_storage bound{};
                socklen_t len = sizeof bound;
                getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
                address = SocketAddress(reinterpret_cast<sockaddr*>(&bound), len);
            }
            auto listener = std::make_unique<TcpListener>(*state, lc, *pool, *stats, std::move(fd));
            listener->start();
            state->add_listener(std::move(listener));
        }
        LOG_INFO("listener %s bound %s (mode tcp)", lc.name.c_str(), address.to_string().c_str());
    }
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
    for (const auto& stats : stats_) total += stats->active.load(std::memory_order_relaxed);
    return total;
}

const ListenerStats* L4Tier::stats(const std::string& listener_name) const {
    size_t index = 0;
    for (const ListenerConfig& lc : config_.listeners) {
        if (lc.mode != ListenerMode::kTcp) continue;
        if (lc.name == listener_name) return stats_[index].get();
        ++index;
    }
    return nullptr;
}

void L4Tier::write_metrics(std::string& out) const {
    metric_header(out, "lbd_listener_connections_accepted_total", "counter", "Connections accepted.");
    for (const ListenerConfig& lc : config_.listeners)
        if (const ListenerStats* s = stats(lc.name))
            metric_sample(out, "lbd_listener_connections_accepted_total", {{"listener", lc.name}}, double(s->accepted.load()));
    metric_header(out, "lbd_listener_connections_active", "gauge", "Connections open now.");
    for (const ListenerConfig& lc : config_.listeners)
        if (const ListenerStats* s = stats(lc.name))
            metric_sample(out, "lbd_listener_connections_active", {{"listener", lc.name}}, double(s->active.load()));
    metric_header(out, "lbd_listener_connections_ended_total", "counter",
                  "Connections closed, by how they ended (the end= of the connection log line).");
    for (const ListenerConfig& lc : config_.listeners) {
        const ListenerStats* s = stats(lc.name);
        if (s == nullptr) continue;
        for (size_t i = 0; i < static_cast<size_t>(EndReason::kCount); ++i)
            metric_sample(out, "lbd_listener_connections_ended_total",
                          {{"listener", lc.name}, {"end", to_string(static_cast<EndReason>(i))}}, double(s->ended[i].load()));
    }
}

void L4Tier::register_admin_commands(AdminRegistry& registry) const {
    registry.add(AdminRequest::kStats, [this](const AdminRequest&, AdminResponse& response) {
        auto* reply = response.mutable_stats();
        for (const ListenerConfig& lc : config_.listeners) {
            const ListenerStats* s = stats(lc.name);
            if (s == nullptr) continue;
            auto* info = reply->add_listeners();
            info->set_name(lc.name);
            info->set_accepted(s->accepted.load(std::memory_order_relaxed));
            info->set_active(s->active.load(std::memory_order_relaxed));
            for (size_t i = 0; i < static_cast<size_t>(EndReason::kCount); ++i)
                (*info->mutable_ended())[to_string(static_cast<EndReason>(i))] =
                    s->ended[i].load(std::memory_order_relaxed);
        }
    });
}

}  // namespace lbd::l4
