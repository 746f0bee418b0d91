#include "l7/l7_tier.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "core/admin/admin_http.h"
#include "core/base/log.h"
#include "core/tier/tcp_listener.h"
#include "l7/cache_metrics.h"
#include "l7/compression/negotiation.h"
#include "l7/h2_upstream.h"
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
                                                    UniqueFd fd, AcceptSpread spread) {
    return std::make_shared<HttpListener>(worker, runtime, tls, config, stats, std::move(fd), std::move(spread));
}

size_t L7Tier::close_idle_connections(const std::shared_ptr<Server>& server) {
    // Each worker closes its own (its idle pool is touched only on its
    // thread); the answer waits for them (a barrier behind those tasks), so
    // `lbctl server drain` can say how many.
    auto closed = std::make_shared<std::atomic<size_t>>(0);
    std::vector<Worker*> threads;
    for (auto& state : workers()) {
        L7Worker* w = state.get();
        threads.push_back(&w->worker());
        w->worker().post([w, server, closed] { closed->fetch_add(w->upstreams().close_idle(server.get())); });
    }
    await_posted_tasks(threads, 1000);
    return closed->load();
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
        // Connections of an accept_proxy listener closed before any request.
        if (lc.accept_proxy.enabled) {
            (*info->mutable_ended())["proxy_untrusted"] = s->proxy_untrusted.load(std::memory_order_relaxed);
            (*info->mutable_ended())["proxy_header_invalid"] = s->proxy_header_invalid.load(std::memory_order_relaxed);
            (*info->mutable_ended())["proxy_header_timeout"] = s->proxy_header_timeout.load(std::memory_order_relaxed);
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
                  "Idle keep-alive connections (HTTP/1 and HTTP/2) among the active ones that hold no session, only their socket.");
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
    write_proxy_metrics(out);
    metric_header(out, "lbd_http_request_duration_seconds", "histogram",
                  "From a request's head phase to its response's last byte.");
    for (const auto& [name, s] : listeners)
        s->request_duration.write(out, "lbd_http_request_duration_seconds", "listener=\"" + name + "\"");
    write_rate_limit_metrics(out);
    metric_header(out, "lbd_http2_connections_total", "counter", "Client connections that spoke HTTP/2 (ALPN h2 or h2c).");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http2_connections_total", {{"listener", name}}, double(s->h2_connections.load()));
    metric_header(out, "lbd_http2_streams_total", "counter", "HTTP/2 streams that carried a request.");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http2_streams_total", {{"listener", name}}, double(s->h2_streams.load()));
    metric_header(out, "lbd_http2_response_buffered_bytes", "gauge",
                  "Response bytes HTTP/2 streams read from their servers and have not yet sent to their clients "
                  "(each connection's are bounded by its response budget).");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http2_response_buffered_bytes", {{"listener", name}},
                      double(s->h2_response_buffered_bytes.load()));
    metric_header(out, "lbd_http2_limits_total", "counter",
                  "HTTP/2 limits hit, by cause (refused streams, oversized heads, protocol errors, empty DATA, "
                  "reset rate, glitch budget, floods, idle timeouts).");
    for (const auto& [name, s] : listeners)
        for (size_t i = 0; i < static_cast<size_t>(H2Limit::kCount); ++i)
            metric_sample(out, "lbd_http2_limits_total", {{"listener", name}, {"cause", to_string(static_cast<H2Limit>(i))}},
                          double(s->h2_limits[i].load()));
    metric_header(out, "lbd_http_response_trailers_dropped_total", "counter",
                  "Responses whose HTTP/2 server sent trailers an HTTP/1 client did not get (no TE: trailers, "
                  "HTTP/1.0, or a body stage re-framed the body).");
    for (const auto& [name, s] : listeners)
        metric_sample(out, "lbd_http_response_trailers_dropped_total", {{"listener", name}},
                      double(s->trailers_dropped.load()));
    metric_header(out, "lbd_http2_server_connections_total", "counter",
                  "HTTP/2 connections attempted to servers, failed ones included (pools with protocol "
                  "SERVER_PROTOCOL_H2C or SERVER_PROTOCOL_H2).");
    metric_sample(out, "lbd_http2_server_connections_total", {}, double(H2UpstreamStats::connections.load()));
    metric_header(out, "lbd_http2_server_streams_total", "counter", "Requests sent to servers as HTTP/2 streams.");
    metric_sample(out, "lbd_http2_server_streams_total", {}, double(H2UpstreamStats::streams.load()));
    write_compression_metrics(out);
    write_cache_metrics(current()->caches, out);
}

void L7Tier::write_compression_metrics(std::string& out) const {
    std::vector<std::pair<std::string, const compression::CompressionStats*>> listeners;
    for_each_listener([&](const ListenerConfig& lc, const HttpListenerStats& s) {
        const bool any_route = std::any_of(lc.http.routes.begin(), lc.http.routes.end(),
                                           [](const HttpRouteConfig& r) { return r.compression.has_value(); });
        if (lc.http.compression || any_route) listeners.emplace_back(lc.name, &s.compression);
    });
    if (listeners.empty()) return;
    const auto per_algorithm = [&](const char* name, const char* help, auto member) {
        metric_header(out, name, "counter", help);
        for (const auto& [listener, s] : listeners)
            for (size_t a = 0; a < compression::kAlgorithms; ++a)
                metric_sample(out, name,
                              {{"listener", listener},
                               {"algorithm", compression::to_token(static_cast<HttpCompressionAlgorithm>(a))}},
                              double((s->*member)[a].load()));
    };
    per_algorithm("lbd_http_compressed_responses_total", "Responses compressed, by algorithm.",
                  &compression::CompressionStats::responses);
    per_algorithm("lbd_http_compression_bytes_in_total", "Body bytes given to the encoders, by algorithm.",
                  &compression::CompressionStats::bytes_in);
    per_algorithm("lbd_http_compression_bytes_out_total", "Compressed bytes the encoders made, by algorithm.",
                  &compression::CompressionStats::bytes_out);
    metric_header(out, "lbd_http_compression_skipped_total", "counter",
                  "Responses of compressing routes sent as they were, by cause.");
    for (const auto& [listener, s] : listeners)
        for (size_t c = 0; c < static_cast<size_t>(compression::SkipCause::kCount); ++c)
            metric_sample(out, "lbd_http_compression_skipped_total",
                          {{"listener", listener}, {"cause", to_string(static_cast<compression::SkipCause>(c))}},
                          double(s->skipped[c].load()));
    metric_header(out, "lbd_http_compression_lowered_total", "counter",
                  "Responses compressed at level 1 because the CPU governor was near max_cpu_percent.");
    for (const auto& [listener, s] : listeners)
        metric_sample(out, "lbd_http_compression_lowered_total", {{"listener", listener}}, double(s->lowered.load()));
    metric_header(out, "lbd_http_compression_gzip_path_total", "counter",
                  "gzip responses by how they were compressed: whole (one libdeflate call) or streamed (zlib).");
    for (const auto& [listener, s] : listeners)
        for (size_t p = 0; p < static_cast<size_t>(compression::GzipPath::kCount); ++p)
            metric_sample(out, "lbd_http_compression_gzip_path_total",
                          {{"listener", listener}, {"path", to_string(static_cast<compression::GzipPath>(p))}},
                          double(s->gzip_paths[p].load()));
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

void L7Tier::write_proxy_metrics(std::string& out) const {
    std::vector<std::pair<std::string, const HttpListenerStats*>> listeners;
    for_each_listener([&](const ListenerConfig& lc, const HttpListenerStats& s) {
        if (lc.accept_proxy.enabled) listeners.emplace_back(lc.name, &s);
    });
    if (listeners.empty()) return;
    metric_header(out, "lbd_http_proxy_header_failures_total", "counter",
                  "accept_proxy connections closed before a request (reason=untrusted: source not in "
                  "trusted_sources; invalid: malformed or cut-off header; timeout).");
    for (const auto& [name, s] : listeners) {
        metric_sample(out, "lbd_http_proxy_header_failures_total", {{"listener", name}, {"reason", "untrusted"}},
                      double(s->proxy_untrusted.load()));
        metric_sample(out, "lbd_http_proxy_header_failures_total", {{"listener", name}, {"reason", "invalid"}},
                      double(s->proxy_header_invalid.load()));
        metric_sample(out, "lbd_http_proxy_header_failures_total", {{"listener", name}, {"reason", "timeout"}},
                      double(s->proxy_header_timeout.load()));
    }
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
