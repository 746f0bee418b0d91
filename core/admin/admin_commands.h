// Admin commands of the core: servers (state, weight) and stick tables.
#pragma once

#include <functional>

#include "core/admin/admin_registry.h"
#include "core/balance/pool.h"

namespace lbd {

// The pools of the running configuration (changes on reload). Called on the
// control thread.
using CurrentPools = std::function<PoolSet&()>;

// Registers servers, set_server_state, set_server_weight, add_server,
// remove_server, stick_show, stick_flush and stick_set. `servers_changed`
// runs after a server was added or removed (the health checker follows).
void register_pool_commands(AdminRegistry& registry, CurrentPools current, std::function<void()> servers_changed);

// Fills a ServerInfo from a server's current state.
void describe_server(const Server& server, ::lbd::v1::ServerInfo& out);

}  // namespace lbd
