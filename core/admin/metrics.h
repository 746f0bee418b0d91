// Prometheus metrics of the core: pools, servers, stick tables, process.
#pragma once

#include <string>

#include "core/balance/pool.h"

namespace lbd {

void write_pool_metrics(const PoolSet& pools, std::string& out);
// Open fds, resident memory, threads (from /proc/self).
void write_process_metrics(std::string& out);

}  // namespace lbd
