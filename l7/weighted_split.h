// A route's weighted split between pools (config.proto WeightedPools): which
// pool takes a request.
//
// New clients are spread by smooth weighted round robin (nginx's: each pick
// adds every weight to its pool's credit, takes the pool with the most, and
// takes the total off it), so 90/10 gives exactly 9 of every 10 requests of
// a worker to the first pool, interleaved rather than in runs. State is per
// worker and per listener (the HttpListener owns it), so no lock is taken.
//
// By client (split `by` CLIENT_ADDRESS, HEADER, COOKIE; nginx
// split_clients): a 64-bit hash of the client's address (or the header's or
// cookie's value) is mapped onto the weights, so a client lands on the same
// side on every worker and after a restart, and the clients divide by the
// weights. A hashed pool with no UP server gives its clients to the others
// (by request) while it is down.
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
#include <string_view>
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

    // The pool's index for `hash`: the weights laid end to end over the
    // 64-bit range, as nginx's split_clients does with percentages.
    // `hash`: hash64 of the client's key (core/base/hash.h: mixed, so nearby
    // addresses spread over the whole range, and the same on both HA nodes).
    size_t by_hash(uint64_t hash) const;

private:
    std::vector<int64_t> weights_;
    std::vector<int64_t> credit_;
    int64_t total_ = 0;
};


// A split route on one listener of one worker: its round robin state and
// its pools, resolved once (the HttpListener owns it for its Runtime's life).
struct SplitRoute {
    SplitRoute(const HttpRouteConfig& route, const PoolSet& pools);
    const HttpRouteConfig& route;
    WeightedSplit split;
    std::vector<Pool*> pools;  // as route.split; checked to exist at load
};

// Phase 2 for a split route: the sticky pool if the request's cookie names
// one of its usable servers, else (split by client) the client's hashed
// pool if it has an UP server, else the next pool with an UP server by
// weight, else (none UP) the next by weight, which will answer 503. Null
// only if a pool vanished (cannot happen: routes are checked at load).
// `peer`: the client connection's TCP peer.
Pool* choose_split_pool(SplitRoute& route, HttpListener& listener, L7Worker& worker, const RequestInfo& request,
                        const SocketAddress& peer);

}  // namespace lbd::l7
