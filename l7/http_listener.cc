#include "l7/http_listener.h"

#include <tuple>

#include "l7/http_session.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

HttpListener::HttpListener(L7Worker& worker, RuntimePtr runtime, const ListenerConfig& config,
                           HttpListenerStats& stats, UniqueFd fd)
    : worker_(worker),
      runtime_(std::move(runtime)),
      stats_(stats),
      default_pool_(config.pool.empty() ? nullptr : runtime_->pools.find(config.pool)),
      listener_(worker.base(), config, stats.accepted, stats.active, std::move(fd),
                [this](UniqueFd client, const SocketAddress& peer) { accepted(std::move(client), peer); }) {
    for (const HttpRouteConfig& route : http().routes)
        if (route.action == HttpRouteAction::kSplit)
            splits_.emplace(std::piecewise_construct, std::forward_as_tuple(&route),
                            std::forward_as_tuple(route, runtime_->pools));
}

void HttpListener::accepted(UniqueFd fd, const SocketAddress& peer) {
    worker_.start_session(std::make_unique<HttpSession>(worker_, shared_from_this(), std::move(fd), peer));
}

}  // namespace lbd::l7
