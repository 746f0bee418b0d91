// One loaded configuration and the pools built from it.
//
// A reload builds a new Runtime from the new config and the current one
// (kept servers, stick tables, rate-limit and cache zones carry over). Listeners and connections hold
// the Runtime they started on through a shared_ptr, so an old Runtime lives
// exactly as long as something still uses it.
#pragma once

#include <memory>

#include "core/config/config.h"
#include "core/balance/pool.h"
#include "core/state/cache_store.h"
#include "core/state/acl_lists.h"
#include "core/state/rate_limiter.h"

namespace lbd {

struct Runtime {
    Runtime(Config loaded, const Runtime* previous)
        : config(std::move(loaded)),
          pools(config, previous != nullptr ? &previous->pools : nullptr),
          rate_limits(config, previous != nullptr ? &previous->rate_limits : nullptr),
          caches(config, previous != nullptr ? &previous->caches : nullptr),
          acl_lists(config) {}
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    const Config config;
    PoolSet pools;
    RateLimitZones rate_limits;
    CacheZones caches;
    // Built afresh from `config`: lbctl's changes do not outlive a reload.
    AclLists acl_lists;
};

using RuntimePtr = std::shared_ptr<Runtime>;

}  // namespace lbd
