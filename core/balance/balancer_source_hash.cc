// "source_hash": map-based hashing of the client address, as HAProxy's
// `balance source` with `hash-type map-based` (lb_map.c).
//
// A lookup array holds each server `weight` times; a client goes to
// map[client_hash % size]. Even and cheap, but not consistent: any change to
// the server set or to a weight remaps most clients. "maglev" is the choice
// when that matters.
//
// The array is filled in smooth weighted round-robin order, as HAProxy's
// recalc_server_map() does, so a server's slots are spread out. When the
// chosen server is skipped we walk forward, and the spread hands its clients
// to many servers instead of piling them all onto one neighbour.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "core/balance/balancer.h"

namespace lbd {

namespace {

class SourceHashBalancer final : public Balancer {
public:
    void rebuild(std::span<Server* const> usable) override {
        map_.clear();
        // Dividing by the common divisor gives the same shares with a smaller
        // map: equal weights (the usual case) need one slot per server.
        // Each weight is read once: set_weight() may run meanwhile, and a
        // divisor from other values could leave a server out of the map.
        std::vector<uint32_t> weight;
        uint32_t divisor = 0;
        for (const Server* s : usable) {
            weight.push_back(s->balancing_weight());
            divisor = std::gcd(divisor, weight.back());
        }
        int64_t total = 0;
        for (uint32_t& w : weight) {
            w /= divisor;
            total += w;
        }
        std::vector<int64_t> current(usable.size(), 0);
        // Smooth weighted round robin (see balancer_round_robin.cc).
        // O(total * servers), paid only at rebuild.
        map_.reserve(static_cast<size_t>(total));
        for (int64_t slot = 0; slot < total; ++slot) {
            size_t best = 0;
            for (size_t i = 0; i < usable.size(); ++i) {
                current[i] += weight[i];
                if (current[i] > current[best]) best = i;
            }
            current[best] -= total;
            map_.push_back(usable[best]);
        }
    }

    Server* pick(const PickContext& ctx) override {
        const size_t size = map_.size();
        if (size == 0) return nullptr;
        size_t slot = static_cast<size_t>(ctx.client_hash % size);
        // Deterministic walk, bounded by one lap: every server is in the map,
        // so a full lap without a hit means all of them are skipped.
        for (size_t step = 0; step < size; ++step) {
            if (!ctx.skip(map_[slot])) return map_[slot];
            if (++slot == size) slot = 0;
        }
        return nullptr;
    }

private:
    std::vector<Server*> map_;
};

std::unique_ptr<Balancer> make_source_hash(const BalancerOptions& /*options*/) {
    return std::make_unique<SourceHashBalancer>();
}

}  // namespace

void register_source_hash_balancer() { BalancerRegistry::add("source_hash", make_source_hash); }

}  // namespace lbd
