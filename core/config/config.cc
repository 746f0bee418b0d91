#include "core/config/config.h"

namespace lbd {

const PoolConfig* Config::find_pool(const std::string& name) const {
    // A handful of pools: a linear scan beats building an index.
    for (const PoolConfig& pool : pools)
        if (pool.name == name) return &pool;
    return nullptr;
}

}  // namespace lbd
