// Balancing strategies: one small interface, registered by name.
//
// Each worker owns one Balancer per pool, so strategies keep mutable state
// (round-robin position, current weights) without locks. The worker calls
// rebuild() with the pool's usable servers whenever the pool's generation
// changes, and pick() for each new connection or request.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/balance/server.h"

namespace lbd {

// What a pick may depend on, and what it must avoid.
struct PickContext {
    // Hash of the client's IP address; only hashing strategies read it.
    uint64_t client_hash = 0;
    // Servers that must not be returned (already tried for this connection).
    std::span<const Server* const> excluded;

    // True when `s` cannot take this connection now: excluded, full, or no
    // longer UP (its state may change between a rebuild and a pick).
    bool skip(const Server* s) const {
        for (const Server* e : excluded)
            if (e == s) return true;
        return !s->is_up() || s->at_capacity();
    }
};

struct BalancerOptions {
    // Maglev lookup table size (prime).
    uint32_t maglev_table_size = 65537;
};

class Balancer {
public:
    virtual ~Balancer() = default;
    // `usable` are the pool's UP servers, in config order, each with weight
    // >= 1. May be empty. The pointers stay valid until the next rebuild.
    virtual void rebuild(std::span<Server* const> usable) = 0;
    // A server from the last rebuild for which ctx.skip() is false, or
    // nullptr when there is none.
    virtual Server* pick(const PickContext& ctx) = 0;
};

using BalancerFactory = std::unique_ptr<Balancer> (*)(const BalancerOptions& options);

// Name -> factory. Filled once at start-up by register_builtin_balancers();
// read-only afterwards, so lookups need no lock.
class BalancerRegistry {
public:
    static void add(std::string name, BalancerFactory factory);
    static bool has(std::string_view name);
    static std::unique_ptr<Balancer> create(std::string_view name, const BalancerOptions& options);
    static std::vector<std::string> names();
};

// Registers round_robin, least_conn, source_hash and maglev. Idempotent.
void register_builtin_balancers();

// One registration function per strategy file (called by the above).
void register_round_robin_balancer();
void register_least_conn_balancer();
void register_source_hash_balancer();
void register_maglev_balancer();

}  // namespace lbd
