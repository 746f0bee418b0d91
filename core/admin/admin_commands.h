// Admin commands of the core: servers (state, weight) and stick tables.
#pragma once

#include <functional>

#include "core/admin/admin_registry.h"
#include "core/balance/pool.h"

namespace lbd {

// The pools of the running configuration (changes on reload). Called on the
// control thread.
using CurrentPools = std::function<PoolSet&()>;

// Closes the idle keep-alive connections to a server (the tiers' idle
// pools); how many. Control thread.
using CloseIdleFn = std::function<size_t(const std::shared_ptr<Server>&)>;

// Registers servers, set_server_state, set_server_weight, add_server,
// remove_server, stick_show, stick_flush and stick_set. `servers_changed`
// runs after a server was added or removed (the health checker follows);
// `close_idle` when a server is set to DRAIN or MAINT.
void register_pool_commands(AdminRegistry& registry, CurrentPools current, std::function<void()> servers_changed,
                            CloseIdleFn close_idle);

// Fills a ServerInfo from a server's current state.
void describe_server(const Server& server, ::lbd::v1::ServerInfo& out);

}  // namespace lbd
