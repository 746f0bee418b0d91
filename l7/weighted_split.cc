#include "l7/weighted_split.h"

#include "l7/cookie_sticky.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

WeightedSplit::WeightedSplit(const std::vector<HttpWeightedPool>& pools) : credit_(pools.size(), 0) {
    for (const HttpWeightedPool& pool : pools) weights_.push_back(pool.weight);
}

int WeightedSplit::next(const std::function<bool(size_t)>& eligible) {
    int best = -1;
    int64_t total = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
        if (weights_[i] == 0 || !eligible(i)) continue;
        credit_[i] += weights_[i];
        total += weights_[i];
        if (best < 0 || credit_[i] > credit_[static_cast<size_t>(best)]) best = static_cast<int>(i);
    }
    if (best >= 0) credit_[static_cast<size_t>(best)] -= total;
    return best;
}

SplitRoute::SplitRoute(const HttpRouteConfig& route, const PoolSet& pool_set) : split(route.split) {
    for (const HttpWeightedPool& entry : route.split) pools.push_back(pool_set.find(entry.pool));
}

Pool* choose_split_pool(SplitRoute& route, HttpListener& listener, L7Worker& worker, const RequestInfo& request) {
    const std::vector<Pool*>& pools = route.pools;
    for (Pool* pool : pools) {
        if (pool == nullptr || pool->cookie_mode() == CookieMode::kNone) continue;
        ServerPicker& picker = worker.picker_for(*pool, listener.runtime());
        if (cookie_server(*pool, picker, request, {}) != nullptr) return pool;
    }
    int chosen = route.split.next([&](size_t i) {
        return pools[i] != nullptr && worker.picker_for(*pools[i], listener.runtime()).any_up();
    });
    if (chosen < 0) chosen = route.split.next([&](size_t i) { return pools[i] != nullptr; });
    return chosen < 0 ? nullptr : pools[static_cast<size_t>(chosen)];
}

}  // namespace lbd::l7
