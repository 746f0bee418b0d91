// A route's weighted split between pools (config.proto WeightedPools): which
// pool takes a request.
//
// New clients are spread by smooth weighted round robin (nginx's: each pick
// adds every weight to its pool's credit, takes the pool with the most, and
// takes the total off it), so 90/10 gives exactly 9 of every 10 requests of
// a worker to the first pool, interleaved rather than in runs. State is per
// worker and per listener (the HttpListener owns it), so no lock is taken.
//
// Stickiness across the split: a client whose stickiness cookie names a
// usable server of one of the split's pools (cookie_sticky.h) goes to that
// pool whatever the weights, so a canary's clients stay on the canary and
// a blue-green switch (weights 100/0 -> 0/100) moves only new clients. A
// pool with weight 0 thus still takes its sticky clients: that is how a
// version is drained. Pools without a cookie are placed by weight only.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/config/config_http.h"
#include "core/balance/pool.h"
#include "l7/http_message.h"

namespace lbd::l7 {

class HttpListener;
class L7Worker;

class WeightedSplit {
public:
    explicit WeightedSplit(const std::vector<HttpWeightedPool>& pools);

    // The next pool's index among those with weight > 0 that `eligible`
    // accepts; -1 when there is none. Pools not eligible now neither gain
    // nor lose credit, so the others keep their relative shares.
    int next(const std::function<bool(size_t)>& eligible);

private:
    std::vector<int64_t> weights_;
    std::vector<int64_t> credit_;
};

// A split route on one listener of one worker: its round robin state and
// its pools, resolved once (the HttpListener owns it for its Runtime's life).
struct SplitRoute {
    SplitRoute(const HttpRouteConfig& route, const PoolSet& pools);
    WeightedSplit split;
    std::vector<Pool*> pools;  // as route.split; checked to exist at load
};

// Phase 2 for a split route: the sticky pool if the request's cookie names
// one of its usable servers, else the next pool with an UP server by
// weight, else (none UP) the next by weight, which will answer 503. Null
// only if a pool vanished (cannot happen: routes are checked at load).
Pool* choose_split_pool(SplitRoute& route, HttpListener& listener, L7Worker& worker, const RequestInfo& request);

}  // namespace lbd::l7
