#include "core/balance/balancer.h"

#include <functional>
#include <map>
#include <mutex>

namespace lbd {

namespace {

// std::less<> lets has()/create() look up a string_view without building a
// std::string. A function-local static avoids the static-initialisation-order
// problem if a registration ever runs from another translation unit's
// initialiser.
using FactoryMap = std::map<std::string, BalancerFactory, std::less<>>;

FactoryMap& factories() {
    static FactoryMap map;
    return map;
}

}  // namespace

// Start-up only (not thread-safe): the map is read without a lock afterwards.
// A second add() of the same name replaces the first.
void BalancerRegistry::add(std::string name, BalancerFactory factory) {
    factories()[std::move(name)] = factory;
}

bool BalancerRegistry::has(std::string_view name) { return factories().contains(name); }

// nullptr for an unknown name; the config loader reports it via has().
std::unique_ptr<Balancer> BalancerRegistry::create(std::string_view name, const BalancerOptions& options) {
    auto it = factories().find(name);
    if (it == factories().end() || it->second == nullptr) return nullptr;
    return it->second(options);
}

// Sorted by name (map order), for error messages and `lbctl`.
std::vector<std::string> BalancerRegistry::names() {
    std::vector<std::string> out;
    out.reserve(factories().size());
    for (const auto& [name, factory] : factories()) out.push_back(name);
    return out;
}

void register_builtin_balancers() {
    // call_once makes repeated calls (main, tests, reload) harmless.
    static std::once_flag once;
    std::call_once(once, [] {
        register_round_robin_balancer();
        register_least_conn_balancer();
        register_source_hash_balancer();
        register_maglev_balancer();
    });
}

}  // namespace lbd
