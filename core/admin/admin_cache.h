// Admin commands of the response cache: `lbctl cache purge` and `lbctl cache stats`.
#pragma once

#include <functional>

#include "core/admin/admin_registry.h"
#include "core/state/cache_store.h"

namespace lbd {

// The cache zones of the running configuration (changes on reload). Called
// on the control thread.
using CurrentCaches = std::function<const CacheZones&()>;

// Registers cache_purge and cache_stats. `purged` runs after a purge with
// its request (the HA pair sends it to the peer), may be empty.
void register_cache_commands(AdminRegistry& registry, CurrentCaches current,
                             std::function<void(const ::lbd::v1::CachePurgeRequest&)> purged);

// A purge of the running zones, as the command does it: the objects removed,
// or -1 when there is no such zone. Any thread (the zones lock).
int64_t purge_cache(const CacheZones& zones, const ::lbd::v1::CachePurgeRequest& request);

}  // namespace lbd
