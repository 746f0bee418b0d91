// "least_conn": weighted least connections.
//
// Picks the server with the lowest (active_connections + 1) / weight. The +1
// is HAProxy's (lb_fwlc.c): with plain conns / weight every idle server
// scores 0 and weight would not matter until connections pile up. Scores are
// compared by cross multiplication, so no floating point and no rounding.
//
// Connection counts are shared by all workers (Server's atomics), so every
// worker balances on the same live numbers. Ties are broken round robin: the
// scan starts just after the last pick, so equal servers take turns instead
// of the first one in config order taking every tie.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/balance/balancer.h"

namespace lbd {

namespace {

class LeastConnBalancer final : public Balancer {
public:
    void rebuild(std::span<Server* const> usable) override {
        entries_.clear();
        for (Server* s : usable) entries_.push_back({s, s->balancing_weight()});
        if (start_ >= entries_.size()) start_ = 0;
    }

    Server* pick(const PickContext& ctx) override {
        const size_t n = entries_.size();
        size_t best = n;
        uint64_t best_load = 0;
        uint64_t best_weight = 1;
        for (size_t k = 0, i = start_; k < n; ++k, i = (i + 1 == n) ? 0 : i + 1) {
            const Entry& e = entries_[i];
            if (ctx.skip(e.server)) continue;
            const uint64_t load = uint64_t{e.server->active_connections()} + 1;
            // load / weight < best_load / best_weight, without division.
            if (best == n || load * best_weight < best_load * e.weight) {
                best = i;
                best_load = load;
                best_weight = e.weight;
            }
        }
        if (best == n) return nullptr;
        start_ = (best + 1 == n) ? 0 : best + 1;
        return entries_[best].server;
    }

private:
    struct Entry {
        Server* server;
        uint64_t weight;  // snapshot at rebuild; set_weight() triggers one
    };
    std::vector<Entry> entries_;
    size_t start_ = 0;  // where the next scan begins: the round-robin tie-break
};

std::unique_ptr<Balancer> make_least_conn(const BalancerOptions& /*options*/) {
    return std::make_unique<LeastConnBalancer>();
}

}  // namespace

void register_least_conn_balancer() { BalancerRegistry::add("least_conn", make_least_conn); }

}  // namespace lbd
