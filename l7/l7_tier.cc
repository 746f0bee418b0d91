#include "l7/l7_tier.h"

#include <sys/socket.h>

#include <algorithm>

#include "core/admin/admin_http.h"
#include "core/base/log.h"
#include "core/tier/tcp_listener.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

namespace {

std::vector<std::unique_ptr<L7Worker>> make_workers(const std::vector<Worker*>& workers, const GlobalConfig& global) {
    std::vector<std::unique_ptr<L7Worker>> out;
    for (Worker* worker : workers) out.push_back(std::make_unique<L7Worker>(*worker, global));
    return out;
}

}  // namespace

// Two threads: a bcrypt check at cost 10-12 takes 60-250 ms, so two
// answer ~10-30 logins a second with the rest queued (bounded; past it
// 503), while leaving the CPUs to the workers. Successes are cached.
constexpr size_t kPasswordThreads = 2;
constexpr size_t kPasswordQueue = 1024;

L7Tier::L7Tier(const std::vector<Worker*>& workers, const GlobalConfig& global)
    : ListenerTier(ListenerMode::kHttp, make_workers(workers, global)),
      password_pool_(std::make_unique<ThreadPool>(kPasswordThreads, kPasswordQueue, "lbd-passwords")) {
    for (auto& worker : this->workers()) worker->set_password_pool(password_pool_.get());
}

L7Tier::~L7Tier() = default;

std::shared_ptr<const TlsContexts> L7Tier::prepare_shared(const Runtime& next, std::string* error) {
    return TlsContexts::build(next.config, error);
}

std::shared_ptr<HttpListener> L7Tier::make_listener(L7Worker& worker, const RuntimePtr& runtime,
                                                    const std::shared_ptr<const TlsContexts>& tls,
                                                    const ListenerConfig& config, HttpListenerStats& stats,
                                                    UniqueFd fd) {
    return std::make_shared<HttpListener>(worker, runtime, tls, config, stats, std::move(fd));
}

void L7Tier::fill_stats(::lbd::v1::StatsReply& reply) const {
    for_each_listener([&](const ListenerConfig& lc, const HttpListenerStats& stats) {
        const HttpListenerStats* s = &stats;
        auto* info = reply.add_listeners();
        info->set_name(lc.name);
        info->set_accepted(s->accepted.load(std::memory_order_relaxed));
        info->set_active(s->active.load(std::memory_order_relaxed));
        for (size_t i = 0; i < static_cast<size_t>(Termination::kCount); ++i)
            (*info->mutable_ended())[to_string(static_cast<Termination>(i))] =
                s->ended[i].load(std::memory_order_relaxed);
        // Connections of a TLS listener that ended before any request.
        if (lc.tls.enabled) {
            (*info->mutable_ended())["tls_handshake_failed"] = s->tls_handshake_failures.load(std::memory_order_relaxed);
            (*info->mutable_ended())["tls_handshake_timeout"] = s->tls_handshake_timeouts.load(std::memory_order_relaxed);
        }
    });
}

void L7Tier::write_metrics(std::string& out) const {
    std::vector<std::pair<std::string, const HttpListenerStats*>> listeners;
    for_each_listener([&](const ListenerConfig& lc, const HttpListenerStats& s) { listeners.emplace_back(lc.name, &s); });
    if (listeners.empty()) return;
    metric_header(out, "lbd_http_connections_accepted_total", "counter", "HTTP client connections accepted.");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http_connections_accepted_total", {{"listener", name}}, double(s->accepted.load()));
    metric_header(out, "lbd_http_connections_active", "gauge", "HTTP client connections open now.");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http_connections_active", {{"listener", name}}, double(s->active.load()));
    metric_header(out, "lbd_http_connections_parked", "gauge",
                  "Idle keep-alive connections among the active ones that hold no session, only their socket.");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http_connections_parked", {{"listener", name}}, double(s->parked.load()));
    metric_header(out, "lbd_http_requests_total", "counter", "HTTP requests received (heads parsed or refused).");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http_requests_total", {{"listener", name}}, double(s->requests.load()));
    metric_header(out, "lbd_http_responses_total", "counter", "HTTP responses sent, by status class.");
    static const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (const auto& [name, s] : listeners)
        for (size_t i = 0; i < 5; ++i)
            metric_sample(out, "lbd_http_responses_total", {{"listener", name}, {"class", kClasses[i]}},
                          double(s->responses[i].load()));
    metric_header(out, "lbd_http_requests_ended_total", "counter",
                  "HTTP requests by how they ended (the term= of the access log).");
    for (const auto& [name, s] : listeners)
        for (size_t i = 0; i < static_cast<size_t>(Termination::kCount); ++i)
            metric_sample(out, "lbd_http_requests_ended_total",
                          {{"listener", name}, {"term", to_string(static_cast<Termination>(i))}},
                          double(s->ended[i].load()));
    write_tls_metrics(out);
    metric_header(out, "lbd_http_request_duration_seconds", "histogram",
                  "From a request's head phase to its response's last byte.");
    for (const auto& [name, s] : listeners)
        s->request_duration.write(out, "lbd_http_request_duration_seconds", "listener=\"" + name + "\"");
    write_rate_limit_metrics(out);
}

void L7Tier::write_rate_limit_metrics(std::string& out) const {
    const auto& zones = current()->rate_limits.all();
    if (zones.empty()) return;
    metric_header(out, "lbd_http_rate_limited_total", "counter", "Requests refused by a rate-limit zone.");
    for (const auto& [listener, zone] : zones)
        metric_sample(out, "lbd_http_rate_limited_total", {{"listener", listener}, {"zone", zone->config().name}},
                      double(zone->refused()));
    metric_header(out, "lbd_http_rate_limit_allowed_total", "counter", "Requests a rate-limit zone let through.");
    for (const auto& [listener, zone] : zones)
        metric_sample(out, "lbd_http_rate_limit_allowed_total", {{"listener", listener}, {"zone", zone->config().name}},
                      double(zone->allowed()));
    metric_header(out, "lbd_http_rate_limit_keys", "gauge", "Keys a rate-limit zone tracks now.");
    for (const auto& [listener, zone] : zones)
        metric_sample(out, "lbd_http_rate_limit_keys", {{"listener", listener}, {"zone", zone->config().name}},
                      double(zone->size()));
}

void L7Tier::write_tls_metrics(std::string& out) const {
    std::vector<std::pair<std::string, const HttpListenerStats*>> listeners;
    for_each_listener([&](const ListenerConfig& lc, const HttpListenerStats& s) {
        if (lc.tls.enabled) listeners.emplace_back(lc.name, &s);
    });
    if (listeners.empty()) return;
    metric_header(out, "lbd_http_tls_handshakes_total", "counter", "TLS handshakes completed on HTTP listeners.");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http_tls_handshakes_total", {{"listener", name}}, double(s->tls_handshakes.load()));
    metric_header(out, "lbd_http_tls_handshake_failures_total", "counter",
                  "TLS handshakes that failed (reason=error: refused, malformed or closed; reason=timeout).");
    for (const auto& [name, s] : listeners) {
        metric_sample(out, "lbd_http_tls_handshake_failures_total", {{"listener", name}, {"reason", "error"}},
                      double(s->tls_handshake_failures.load()));
        metric_sample(out, "lbd_http_tls_handshake_failures_total", {{"listener", name}, {"reason", "timeout"}},
                      double(s->tls_handshake_timeouts.load()));
    }
}

}  // namespace lbd::l7
