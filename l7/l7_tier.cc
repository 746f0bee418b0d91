#include "l7/l7_tier.h"

#include <sys/socket.h>

#include <algorithm>

#include "core/admin/admin_http.h"
#include "core/base/log.h"
#include "core/tier/tcp_listener.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

// One HTTP listener of the next configuration: its new sockets (one per
// worker), or none when the current socket is kept.
struct L7Tier::Plan : ListenerSockets {
    HttpListenerStats* stats = nullptr;  // set on the control thread: workers never read slots_
};

L7Tier::L7Tier(const std::vector<Worker*>& workers, const GlobalConfig& global) {
    for (Worker* worker : workers) worker_state_.push_back(std::make_unique<L7Worker>(*worker, global));
}

L7Tier::~L7Tier() = default;

bool L7Tier::prepare(const Runtime& next, std::vector<Plan>& plans, std::shared_ptr<const TlsContexts>& tls,
                     std::string* error) {
    // Contexts first: a certificate that no longer loads changes nothing.
    tls = TlsContexts::build(next.config, error);
    if (tls == nullptr) return false;
    for (const ListenerConfig& lc : next.config.listeners) {
        if (lc.mode != ListenerMode::kHttp) continue;
        Plan& plan = plans.emplace_back();
        if (!plan_listener_sockets(lc, current_ ? &current_->config : nullptr, worker_state_.size(), plan, error))
            return false;
        if (plan.kept) plan.bound = slots_[lc.name].bound;
    }
    return true;
}

bool L7Tier::start(RuntimePtr runtime, std::string* error) {
    std::vector<Plan> plans;
    std::shared_ptr<const TlsContexts> tls;
    if (!prepare(*runtime, plans, tls, error)) return false;
    for (Plan& plan : plans) {
        Slot& slot = slots_[plan.config->name];
        slot.bound = plan.bound;
        for (size_t i = 0; i < worker_state_.size(); ++i) {
            L7Worker& w = *worker_state_[i];
            auto listener = std::make_shared<HttpListener>(w, runtime, tls, *plan.config, *slot.stats, std::move(plan.fds[i]));
            listener->start();
            w.add_listener(std::move(listener));
        }
        LOG_INFO("listener %s bound %s (mode http%s)", plan.config->name.c_str(), plan.bound.to_string().c_str(),
                 plan.config->tls.enabled ? ", tls" : "");
    }
    current_ = std::move(runtime);
    return true;
}

bool L7Tier::reload(RuntimePtr next, std::string* error) {
    auto plans = std::make_shared<std::vector<Plan>>();
    std::shared_ptr<const TlsContexts> tls;
    if (!prepare(*next, *plans, tls, error)) return false;
    for (Plan& plan : *plans) {
        Slot& slot = slots_[plan.config->name];
        slot.bound = plan.bound;
        plan.stats = slot.stats.get();
        LOG_INFO("listener %s %s %s (mode http)", plan.config->name.c_str(), plan.kept ? "kept" : "bound",
                 plan.bound.to_string().c_str());
    }
    for (size_t i = 0; i < worker_state_.size(); ++i) {
        L7Worker* w = worker_state_[i].get();
        // Runs on worker i: only that worker touches its listeners.
        w->worker().post([w, i, next, plans, tls] {
            std::vector<std::shared_ptr<HttpListener>> fresh;
            for (Plan& plan : *plans) {
                UniqueFd released;
                if (auto old = plan.kept ? w->find_listener(plan.config->name) : nullptr) released = old->release_fd();
                UniqueFd fd = plan.take(i, std::move(released));
                if (!fd) continue;
                auto listener = std::make_shared<HttpListener>(*w, next, tls, *plan.config, *plan.stats, std::move(fd));
                listener->start();
                fresh.push_back(std::move(listener));
            }
            w->replace_listeners(std::move(fresh), next->config.global);
        });
    }
    current_ = std::move(next);
    return true;
}

void L7Tier::stop_accepting() {
    for (auto& state : worker_state_) {
        L7Worker* w = state.get();
        w->worker().post([w] { w->stop_accepting(); });
    }
}

void L7Tier::abort_all() {
    for (auto& state : worker_state_) {
        L7Worker* w = state.get();
        w->worker().post([w] { w->abort_all(); });
    }
}

uint64_t L7Tier::active_connections() const {
    uint64_t total = 0;
    for (const auto& [name, slot] : slots_) total += slot.stats->active.load(std::memory_order_relaxed);
    return total;
}

const HttpListenerStats* L7Tier::stats(const std::string& listener_name) const {
    auto it = slots_.find(listener_name);
    return it == slots_.end() ? nullptr : it->second.stats.get();
}

std::optional<SocketAddress> L7Tier::bound_address(const std::string& listener_name) const {
    auto it = slots_.find(listener_name);
    if (it == slots_.end()) return std::nullopt;
    return it->second.bound;
}

void L7Tier::fill_stats(::lbd::v1::StatsReply& reply) const {
    if (!current_) return;
    for (const ListenerConfig& lc : current_->config.listeners) {
        if (lc.mode != ListenerMode::kHttp) continue;
        const HttpListenerStats* s = stats(lc.name);
        if (s == nullptr) continue;
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
    }
}

void L7Tier::write_metrics(std::string& out) const {
    if (!current_) return;
    std::vector<std::pair<std::string, const HttpListenerStats*>> listeners;
    for (const ListenerConfig& lc : current_->config.listeners)
        if (lc.mode == ListenerMode::kHttp)
            if (const HttpListenerStats* s = stats(lc.name)) listeners.emplace_back(lc.name, s);
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
    const auto& zones = current_->rate_limits.all();
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
    for (const ListenerConfig& lc : current_->config.listeners)
        if (lc.mode == ListenerMode::kHttp && lc.tls.enabled)
            if (const HttpListenerStats* s = stats(lc.name)) listeners.emplace_back(lc.name, s);
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
