#include "l7/weighted_split.h"

#include <optional>

#include "core/base/hash.h"
#include "l7/cookie_header.h"
#include "l7/cookie_sticky.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

WeightedSplit::WeightedSplit(const std::vector<HttpWeightedPool>& pools) : credit_(pools.size(), 0) {
    for (const HttpWeightedPool& pool : pools) {
        weights_.push_back(pool.weight);
        total_ += pool.weight;
    }
}

size_t WeightedSplit::by_hash(uint64_t hash) const {
    // hash * total / 2^64: a point in [0, total) (the total is at most 10000 * pools, checked at load).
    const auto point = static_cast<int64_t>((static_cast<unsigned __int128>(hash) * static_cast<uint64_t>(total_)) >> 64);
    int64_t upto = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
        upto += weights_[i];
        if (point < upto) return i;
    }
    return weights_.size() - 1;
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

SplitRoute::SplitRoute(const HttpRouteConfig& route, const PoolSet& pool_set) : route(route), split(route.split) {
    for (const HttpWeightedPool& entry : route.split) pools.push_back(pool_set.find(entry.pool));
}

namespace {

// The split's hash for this client, or nullopt when it splits by request (or the key is missing).
std::optional<uint64_t> client_hash(const HttpRouteConfig& route, const HttpForwardedConfig& forwarded,
                                    const RequestInfo& request, const SocketAddress& peer) {
    switch (route.split_by) {
        case HttpSplitBy::kRequest: return std::nullopt;
        case HttpSplitBy::kClientAddress:
            // The client behind trusted proxies, as the rate limits and access rules see it.
            return hash64(client_address(forwarded, request, peer).unmapped().ip_bytes());
        case HttpSplitBy::kHeader:
            if (const std::string* value = find_header(request.headers, route.split_key)) return hash64(*value);
            return std::nullopt;
        case HttpSplitBy::kCookie:
            if (auto value = request_cookie(request.headers, route.split_key)) return hash64(*value);
            return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

Pool* choose_split_pool(SplitRoute& route, HttpListener& listener, L7Worker& worker, const RequestInfo& request,
                        const SocketAddress& peer) {
    const std::vector<Pool*>& pools = route.pools;
    for (Pool* pool : pools) {
        if (pool == nullptr || pool->cookie_mode() == CookieMode::kNone) continue;
        ServerPicker& picker = worker.picker_for(*pool, listener.runtime());
        if (cookie_server(*pool, picker, request, {}) != nullptr) return pool;
    }
    if (auto hash = client_hash(route.route, listener.http().forwarded, request, peer)) {
        Pool* pool = pools[route.split.by_hash(*hash)];
        if (pool != nullptr && worker.picker_for(*pool, listener.runtime()).any_up()) return pool;
    }
    int chosen = route.split.next([&](size_t i) {
        return pools[i] != nullptr && worker.picker_for(*pools[i], listener.runtime()).any_up();
    });
    if (chosen < 0) chosen = route.split.next([&](size_t i) { return pools[i] != nullptr; });
    return chosen < 0 ? nullptr : pools[static_cast<size_t>(chosen)];
}

}  // namespace lbd::l7
