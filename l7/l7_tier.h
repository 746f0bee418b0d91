// The L7 tier: HTTP listeners (plain or TLS) whose requests are proxied to
// pools. The listener bookkeeping (sockets kept across reloads, counters,
// per-worker switch-over) is the shared shell (core/tier/listener_tier.h);
// this adds the TLS contexts a configuration's listeners share, how an HTTP
// listener is made, and the tier's stats and metrics.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/loop/worker.h"
#include "core/tier/listener_tier.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"
#include "l7/proxy_types.h"
#include "l7/tls_setup.h"

namespace lbd::l7 {

class L7Tier final : public ListenerTier<L7Worker, HttpListener, HttpListenerStats, TlsContexts> {
public:
    L7Tier(const std::vector<Worker*>& workers, const GlobalConfig& global);
    // Call after the workers' threads have stopped.
    ~L7Tier() override;

    // Adds the HTTP listeners to `lbctl stats` (ended = by termination).
    void fill_stats(::lbd::v1::StatsReply& reply) const override;
    size_t close_idle_connections(const std::shared_ptr<Server>& server) override;
    // Prometheus text for the HTTP listeners.
    void write_metrics(std::string& out) const override;

private:
    // The TLS contexts of `next` (control thread): a certificate that no
    // longer loads fails the plan, and with it the whole reload.
    std::shared_ptr<const TlsContexts> prepare_shared(const Runtime& next, std::string* error) override;
    std::shared_ptr<HttpListener> make_listener(L7Worker& worker, const RuntimePtr& runtime,
                                                const std::shared_ptr<const TlsContexts>& tls,
                                                const ListenerConfig& config, HttpListenerStats& stats,
                                                UniqueFd fd, AcceptSpread spread) override;
    const char* mode_label(const ListenerConfig& config) const override {
        return config.tls.enabled ? "https" : "http";
    }
    void write_rate_limit_metrics(std::string& out) const;
    void write_tls_metrics(std::string& out) const;
    void write_compression_metrics(std::string& out) const;
    void write_proxy_metrics(std::string& out) const;

    // Password hashing for basic_auth (l7/basic_auth.h), off the loops. A
    // member of this class, so destroyed (threads joined, queued jobs
    // dropped) before the base's workers: a job never posts to a freed one.
    std::unique_ptr<ThreadPool> password_pool_;
};

}  // namespace lbd::l7
