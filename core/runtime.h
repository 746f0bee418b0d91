// One loaded configuration and the pools built from it.
//
// A reload builds a new Runtime from the new config and the current one
// (kept servers and stick tables carry over). Listeners and connections hold
// the Runtime they started on through a shared_ptr, so an old Runtime lives
// exactly as long as something still uses it.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/pool.h"

namespace lbd {

struct Runtime {
    Runtime(Config loaded, const Runtime* previous)
        : config(std::move(loaded)), pools(config, previous != nullptr ? &previous->pools : nullptr) {}
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    const Config config;
    PoolSet pools;
};

using RuntimePtr = std::shared_ptr<Runtime>;

}  // namespace lbd
