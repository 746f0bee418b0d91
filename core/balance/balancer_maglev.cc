// "maglev": Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
// Reliable Software Network Load Balancer", NSDI 2016, section 3.4).
//
// Each server gets a permutation of the M table slots from two hashes of its
// name: offset = h1(name) % M, skip = h2(name) % (M - 1) + 1, and
// permutation[j] = (offset + j * skip) % M. M is prime, so every skip is
// coprime with M and each permutation visits every slot. The table is filled
// in rounds: each server in turn takes the next slot of its permutation that
// is still free, until all M slots are taken (Pseudocode 1). A client goes to
// table[client_hash % M].
//
// The result: each server holds about M / N slots (3.4: "almost equal"), and
// removing a server mostly reassigns only that server's slots (3.4, figure
// 12: minimal disruption), so established clients keep their server.
//
// Weights are Katran's way (katran/lib/MaglevHash.cpp): a server of weight w
// takes w slots per round. Weights are first divided by their common
// divisor, so a pool of equal weights builds exactly the paper's table.
//
// Servers are hashed by name with fixed seeds, not by position or address:
// both HA nodes (and every worker) build the same table for the same pool.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "core/balance/balancer.h"
#include "core/base/hash.h"

namespace lbd {

namespace {

// h1 and h2 of the paper: hash64 with two fixed, independent seeds.
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d31ULL;  // "maglev-1"
constexpr uint64_t kSkipSeed = 0x6d61676c65762d32ULL;    // "maglev-2"

bool is_prime(uint32_t n) {
    if (n < 2) return false;
    for (uint32_t d = 2; uint64_t{d} * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

// The config loader requires a prime; rounding up here as well keeps the
// fill loop below finite whatever it is given (with M not prime a skip may
// share a factor with M and its permutation would miss slots).
uint32_t prime_at_least(uint32_t n) {
    n = std::max<uint32_t>(n, 2);
    while (!is_prime(n)) ++n;
    return n;
}

class MaglevBalancer final : public Balancer {
public:
    explicit MaglevBalancer(uint32_t table_size) : table_size_(prime_at_least(table_size)) {}

    void rebuild(std::span<Server* const> usable) override {
        servers_.assign(usable.begin(), usable.end());
        table_.clear();
        if (servers_.empty()) return;
        const uint64_t m = table_size_;
        const size_t n = servers_.size();

        // Instead of the paper's N x M permutation matrix, keep each server's
        // current position in its permutation and step it by `skip`.
        std::vector<uint64_t> position(n), skip(n);
        std::vector<uint32_t> turns(n);
        uint32_t divisor = 0;
        for (size_t i = 0; i < n; ++i) {
            const std::string& name = servers_[i]->name();
            position[i] = hash64(name, kOffsetSeed) % m;
            skip[i] = hash64(name, kSkipSeed) % (m - 1) + 1;
            // Read each weight once: set_weight() may run meanwhile, and a
            // divisor from other values could leave a server with 0 turns.
            turns[i] = servers_[i]->balancing_weight();
            divisor = std::gcd(divisor, turns[i]);
        }
        for (uint32_t& t : turns) t /= divisor;

        table_.assign(m, kEmpty);
        uint64_t filled = 0;
        for (;;) {
            for (size_t i = 0; i < n; ++i) {
                for (uint32_t t = 0; t < turns[i]; ++t) {
                    // Terminates: the permutation visits every slot and at
                    // least one is still free.
                    while (table_[position[i]] != kEmpty) position[i] = (position[i] + skip[i]) % m;
                    table_[position[i]] = static_cast<uint32_t>(i);
                    position[i] = (position[i] + skip[i]) % m;
                    if (++filled == m) return;
                }
            }
        }
    }

    Server* pick(const PickContext& ctx) override {
        if (servers_.empty()) return nullptr;
        const uint32_t m = table_size_;
        uint32_t slot = static_cast<uint32_t>(ctx.client_hash % m);
        Server* first = servers_[table_[slot]];
        if (!ctx.skip(first)) return first;

        // Rare path (retry after a failed connect, full or just-downed
        // server). Look for any usable server first: O(N), and it spares a
        // walk over all M slots when none is left (overload).
        Server* fallback = nullptr;
        for (Server* s : servers_) {
            if (!ctx.skip(s)) {
                fallback = s;
                break;
            }
        }
        if (fallback == nullptr) return nullptr;
        // Walk forward: neighbouring slots belong to many servers, so the
        // skipped server's clients spread out, and the walk is deterministic
        // so both HA nodes make the same choice.
        for (uint32_t step = 1; step < m; ++step) {
            if (++slot == m) slot = 0;
            Server* s = servers_[table_[slot]];
            if (!ctx.skip(s)) return s;
        }
        // Only when the usable servers own no slot (more servers than M) or
        // their state changed during the walk.
        return fallback;
    }

private:
    static constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();

    uint32_t table_size_;          // M, prime
    std::vector<Server*> servers_;  // from the last rebuild, in config order
    std::vector<uint32_t> table_;   // slot -> index into servers_
};

std::unique_ptr<Balancer> make_maglev(const BalancerOptions& options) {
    return std::make_unique<MaglevBalancer>(options.maglev_table_size);
}

}  // namespace

void register_maglev_balancer() { BalancerRegistry::add("maglev", make_maglev); }

}  // namespace lbd
