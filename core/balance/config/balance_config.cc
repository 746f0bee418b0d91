// Registers a pool's `balance` with the config loader (core/config/
// config_modules.h): the names are those of the BalancerRegistry, so a
// strategy added there is known to `lbd -t` and `lbctl config check` at once.
#include <algorithm>

#include "core/balance/balancer.h"
#include "core/config/config_modules.h"

namespace lbd::config_check {
namespace {

void check_balance(const pb::Pool& msg, const Node& node, const std::string&, PoolConfig& out, Errors& errors) {
    register_builtin_balancers();  // idempotent; at load time, not from a static initializer
    if (msg.balance().empty() || BalancerRegistry::has(msg.balance())) {
        if (!msg.balance().empty()) out.balance = msg.balance();
        return;
    }
    std::vector<std::string> known = BalancerRegistry::names();
    std::sort(known.begin(), known.end());
    std::string list;
    for (const std::string& name : known) list += (list.empty() ? "" : ", ") + name;
    errors.add(node.at(pb::Pool::kBalanceFieldNumber), "unknown balance " + quote(msg.balance()) + " (known: " + list + ")");
    out.balance = msg.balance();
}

const bool registered = register_config_module({
    .name = "balance",
    .owns = {"Pool.balance"},
    .global = {},
    .pool = &check_balance,
    .listener = {},
    .whole = {},
});

}  // namespace
}  // namespace lbd::config_check
