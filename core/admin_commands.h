// Admin commands of the core: servers (state, weight) and stick tables.
#pragma once

#include "core/admin_registry.h"
#include "core/pool.h"

namespace lbd {

// Registers servers, set_server_state, set_server_weight, stick_show,
// stick_flush and stick_set. `pools` must outlive the registry's use.
void register_pool_commands(AdminRegistry& registry, PoolSet& pools);

// Fills a ServerInfo from a server's current state.
void describe_server(const Server& server, ::lbd::v1::ServerInfo& out);

}  // namespace lbd
