#include "l7/http_listener.h"

#include <algorithm>
#include <tuple>

#include "l7/compress_filter.h"
#include "l7/access_control.h"
#include "l7/basic_auth.h"
#include "l7/cookie_sticky_filter.h"
#include "l7/header_filters.h"
#include "l7/http_session.h"
#include "l7/l7_worker.h"
#include "l7/route_filter.h"

namespace lbd::l7 {

namespace {

// How often a listener asks its ticket keys whether one is due to rotate: a
// fraction of the rotation interval, so a rotation is at most that late.
// Every worker's copy of a listener asks; the context rotates once (it
// compares the key's age under its lock), and the others find nothing due.
uint32_t rotate_check_ms(const TlsServerSettings& settings) {
    return std::clamp<uint32_t>(settings.ticket_rotation_s * 1000 / 8, 1000, 60000);
}

uint16_t bound_port(int fd) {
    const std::optional<SocketAddress> local = SocketAddress::local_of(fd);
    return local ? local->port() : 0;
}

}  // namespace

HttpListener::HttpListener(L7Worker& worker, RuntimePtr runtime, std::shared_ptr<const TlsContexts> tls,
                           const ListenerConfig& config, HttpListenerStats& stats, UniqueFd fd,
                           AcceptSpread spread)
    : worker_(worker),
      runtime_(std::move(runtime)),
      tls_(std::move(tls)),
      server_tls_(config.tls.enabled ? tls_->listener(config.name) : nullptr),
      stats_(stats),
      default_pool_(config.pool.empty() ? nullptr : runtime_->pools.find(config.pool)),
      local_port_(bound_port(fd.get())),
      listener_(worker.base(), config, stats.accepted, stats.active, std::move(fd), std::move(spread),
                [this](UniqueFd client, const SocketAddress& peer) { accepted(std::move(client), peer); }),
      rate_limits_(runtime_->rate_limits, config),
      caches_(runtime_->caches, config.http) {
    for (const HttpRouteConfig& route : http().routes)
        if (route.action == HttpRouteAction::kSplit)
            splits_.emplace(std::piecewise_construct, std::forward_as_tuple(&route),
                            std::forward_as_tuple(route, runtime_->pools));
    // The order is the phase diagram of filter.h. A feature's filters join
    // the chain only where the listener or one of its routes uses it: a
    // request pays nothing for what is not configured.
    const auto& routes = http().routes;
    const auto any_route = [&](auto uses) { return std::any_of(routes.begin(), routes.end(), uses); };
    const bool access = http().access || any_route([](const HttpRouteConfig& r) { return r.access.has_value(); });
    const bool auth = any_route([](const HttpRouteConfig& r) { return r.basic_auth.has_value(); });
    const bool cache = any_route([](const HttpRouteConfig& r) { return r.cache.enabled(); });
    const bool compress =
        http().compression || any_route([](const HttpRouteConfig& r) { return r.compression.has_value(); });
    if (access) filters_.add(std::make_unique<AccessFilter>(runtime_->acl_lists, http()));
    if (auth)
        filters_.add(std::make_unique<BasicAuthFilter>(http(), config.name, runtime_->rate_limits,
                                                       worker_.password_pool(), worker_.worker()));
    filters_.add(std::make_unique<RateLimitFilter>(rate_limits_, http()));
    filters_.add(std::make_unique<RouteFilter>(*this, worker_));
    if (cache) filters_.add(std::make_unique<CacheLookupFilter>(caches_, worker_, *this));
    filters_.add(std::make_unique<RequestHeadersFilter>(http()));
    filters_.add(std::make_unique<CookieStickyFilter>());
    filters_.add(std::make_unique<ResponseHeadersFilter>(http()));
    if (compress)
        filters_.add(std::make_unique<CompressFilter>(http(), stats_.compression, worker_.compression_governor()));
    // Last: the cache stores what the client gets.
    if (cache) filters_.add(std::make_unique<CacheStoreFilter>());
}

void HttpListener::start() {
    listener_.start();
    if (server_tls_ == nullptr || !config().tls.context.session_tickets) return;
    rotate_ = make_event(worker_.base(), -1, EV_PERSIST, &HttpListener::on_rotate, this);
    arm_timer(rotate_.get(), rotate_check_ms(config().tls.context));
}

void HttpListener::stop() {
    listener_.stop();
    // A replaced listener's context is the old configuration's: the new
    // listener rotates its own.
    rotate_.reset();
}

void HttpListener::on_rotate(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<HttpListener*>(arg);
    self->server_tls_->rotate_ticket_keys(monotonic_ms());
}

void HttpListener::accepted(UniqueFd fd, const SocketAddress& peer) {
    // A load balancer in front speaks first: its PROXY header names the
    // client the session is for (proxy_header_wait.h).
    if (config().accept_proxy.enabled) return worker_.proxy_waits().accept(shared_from_this(), std::move(fd), peer);
    worker_.start_session(std::make_unique<HttpSession>(worker_, shared_from_this(), std::move(fd), peer));
}

}  // namespace lbd::l7
