// "round_robin": smooth weighted round robin, nginx's algorithm
// (ngx_http_upstream_get_peer() in ngx_http_upstream_round_robin.c).
//
// On each pick every eligible server's current weight grows by its weight;
// the largest wins and gives back the sum of the eligible weights. Over
// sum(w) picks each server is chosen exactly w times, and a heavy server's
// turns are interleaved with the others (weights 5,1,1 give a a b a c a a)
// instead of arriving in one burst (a a a a a b c).
//
// Skipped servers neither gain weight nor count in the sum, as nginx does
// for down or failed peers, so the others keep their relative shares.
#include <cstdint>
#include <memory>
#include <vector>

#include "core/balance/balancer.h"

namespace lbd {

namespace {

class RoundRobinBalancer final : public Balancer {
public:
    void rebuild(std::span<Server* const> usable) override {
        std::vector<Entry> next;
        next.reserve(usable.size());
        for (Server* s : usable) {
            // A server that stays keeps its current weight: rebuilds follow
            // every state change in the pool, and restarting from zero each
            // time would hand the first pick to the same server again.
            int64_t current = 0;
            for (const Entry& old : entries_) {
                if (old.server == s) {
                    current = old.current;
                    break;
                }
            }
            next.push_back({s, static_cast<int64_t>(s->balancing_weight()), current});
        }
        entries_ = std::move(next);
    }

    Server* pick(const PickContext& ctx) override {
        Entry* best = nullptr;
        int64_t total = 0;
        for (Entry& e : entries_) {
            if (ctx.skip(e.server)) continue;
            e.current += e.weight;
            total += e.weight;
            // Strict '>' keeps the earlier server on ties, as nginx does.
            if (best == nullptr || e.current > best->current) best = &e;
        }
        if (best == nullptr) return nullptr;
        best->current -= total;
        return best->server;
    }

private:
    struct Entry {
        Server* server;
        int64_t weight;   // snapshot at rebuild; set_weight() triggers one
        int64_t current;  // nginx's current_weight
    };
    std::vector<Entry> entries_;
};

std::unique_ptr<Balancer> make_round_robin(const BalancerOptions& /*options*/) {
    return std::make_unique<RoundRobinBalancer>();
}

}  // namespace

void register_round_robin_balancer() { BalancerRegistry::add("round_robin", make_round_robin); }

}  // namespace lbd
