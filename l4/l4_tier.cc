#include "l4/l4_tier.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/admin/admin_http.h"
#include "core/tier/tcp_listener.h"
#include "core/base/check.h"
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

namespace {

std::vector<std::unique_ptr<L4Worker>> make_workers(const std::vector<Worker*>& workers, const GlobalConfig& global) {
    std::vector<std::unique_ptr<L4Worker>> out;
    for (Worker* worker : workers) out.push_back(std::make_unique<L4Worker>(*worker, global));
    return out;
}

}  // namespace

L4Tier::L4Tier(const std::vector<Worker*>& workers, const GlobalConfig& global)
    : ListenerTier(ListenerMode::kTcp, make_workers(workers, global)) {}

L4Tier::~L4Tier() = default;

std::shared_ptr<const NothingShared> L4Tier::prepare_shared(const Runtime& next, std::string* error) {
    // The loader checked every reference; a listener must never reach a
    // worker without its pool (make_listener dereferences it).
    for (const ListenerConfig& lc : next.config.listeners) {
        if (lc.mode == ListenerMode::kTcp && !LBD_CHECK(next.pools.find(lc.pool) != nullptr, "TCP listener without its pool")) {
            *error = "listener " + lc.name + ": unknown pool " + lc.pool;
            return nullptr;
        }
    }
    static const auto kNothing = std::make_shared<const NothingShared>();
    return kNothing;
}

std::shared_ptr<L4Listener> L4Tier::make_listener(L4Worker& worker, const RuntimePtr& runtime,
                                                  const std::shared_ptr<const NothingShared>&,
                                                  const ListenerConfig& config, ListenerStats& stats, UniqueFd fd,
                                                  AcceptSpread spread) {
    return std::make_shared<L4Listener>(worker, runtime, config, *runtime->pools.find(config.pool), stats,
                                        std::move(fd), std::move(spread));
}

void L4Tier::write_metrics(std::string& out) const {
    write_histograms(out);
    metric_header(out, "lbd_listener_connections_accepted_total", "counter", "Connections accepted.");
    for_each_listener([&](const ListenerConfig& lc, const ListenerStats& s) {
        metric_sample(out, "lbd_listener_connections_accepted_total", {{"listener", lc.name}}, double(s.accepted.load()));
    });
    metric_header(out, "lbd_listener_connections_active", "gauge", "Connections open now.");
    for_each_listener([&](const ListenerConfig& lc, const ListenerStats& s) {
        metric_sample(out, "lbd_listener_connections_active", {{"listener", lc.name}}, double(s.active.load()));
    });
    metric_header(out, "lbd_listener_connections_ended_total", "counter",
                  "Connections closed, by how they ended (the end= of the connection log line).");
    for_each_listener([&](const ListenerConfig& lc, const ListenerStats& s) {
        for (size_t i = 0; i < static_cast<size_t>(EndReason::kCount); ++i)
            metric_sample(out, "lbd_listener_connections_ended_total",
                          {{"listener", lc.name}, {"end", to_string(static_cast<EndReason>(i))}}, double(s.ended[i].load()));
    });
}

void L4Tier::write_histograms(std::string& out) const {
    metric_header(out, "lbd_listener_connection_duration_seconds", "histogram",
                  "How long connections stayed open, from accept to close.");
    for_each_listener([&](const ListenerConfig& lc, const ListenerStats& s) {
        s.duration.write(out, "lbd_listener_connection_duration_seconds", "listener=\"" + lc.name + "\"");
    });
}

void L4Tier::fill_stats(::lbd::v1::StatsReply& reply) const {
    for_each_listener([&](const ListenerConfig& lc, const ListenerStats& s) {
        auto* info = reply.add_listeners();
        info->set_name(lc.name);
        info->set_accepted(s.accepted.load(std::memory_order_relaxed));
        info->set_active(s.active.load(std::memory_order_relaxed));
        for (size_t i = 0; i < static_cast<size_t>(EndReason::kCount); ++i)
            (*info->mutable_ended())[to_string(static_cast<EndReason>(i))] = s.ended[i].load(std::memory_order_relaxed);
    });
}

}  // namespace lbd::l4
