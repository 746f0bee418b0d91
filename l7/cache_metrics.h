// The lbd_http_cache_* metrics of the response cache zones (/metrics):
// hits, misses, stores, evictions, purged, too large, collapse waits and
// their timeouts, stale served by cause, bytes and objects, by zone.
#pragma once

#include <string>

#include "core/state/cache_store.h"

namespace lbd::l7 {

void write_cache_metrics(const CacheZones& zones, std::string& out);

}  // namespace lbd::l7
