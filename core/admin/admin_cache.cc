#include "core/admin/admin_cache.h"

namespace lbd {

int64_t purge_cache(const CacheZones& zones, const ::lbd::v1::CachePurgeRequest& request) {
    CacheZone* zone = zones.find(request.zone());
    if (zone == nullptr) return -1;
    if (!request.tag().empty()) return static_cast<int64_t>(zone->purge_tag(request.tag()));
    return static_cast<int64_t>(zone->purge(request.target(), request.prefix()));
}

void register_cache_commands(AdminRegistry& registry, CurrentCaches current,
                             std::function<void(const ::lbd::v1::CachePurgeRequest&)> purged) {
    registry.add(AdminRequest::kCachePurge, [current, purged](const AdminRequest& request, AdminResponse& response) {
        const auto& args = request.cache_purge();
        if (args.target().empty() == args.tag().empty() || (!args.tag().empty() && args.prefix()))
            return admin_error(response, ::lbd::v1::AdminError::INVALID_ARGUMENT,
                               "cache purge needs a key, a path or a prefix, or else a tag");
        const CacheZone* zone = current().find(args.zone());
        if (zone == nullptr)
            return admin_error(response, ::lbd::v1::AdminError::NOT_FOUND, "no cache zone '" + args.zone() + "'");
        if (!args.tag().empty() && zone->config().tag_header.empty())
            return admin_error(response, ::lbd::v1::AdminError::INVALID_ARGUMENT,
                               "cache zone '" + args.zone() + "' has no tag_header: its objects have no tags");
        const int64_t removed = purge_cache(current(), args);
        response.mutable_cache_purge()->set_purged(static_cast<uint64_t>(removed));
        if (purged) purged(args);
    });
    registry.add(AdminRequest::kCacheStats, [current](const AdminRequest&, AdminResponse& response) {
        auto& reply = *response.mutable_cache_stats();
        for (const auto& zone : current().all()) {
            auto& info = *reply.add_zones();
            const CacheZoneCounters& c = zone->counters();
            info.set_name(zone->config().name);
            info.set_max_bytes(zone->config().max_bytes);
            info.set_max_object_bytes(zone->config().max_object_bytes);
            info.set_bytes(zone->bytes());
            info.set_objects(zone->objects());
            info.set_hits(c.hits.load(std::memory_order_relaxed));
            info.set_misses(c.misses.load(std::memory_order_relaxed));
            info.set_stores(c.stores.load(std::memory_order_relaxed));
            info.set_evictions(c.evictions.load(std::memory_order_relaxed));
            info.set_purged(c.purged.load(std::memory_order_relaxed));
            info.set_too_large(c.too_large.load(std::memory_order_relaxed));
            info.set_collapsed(c.collapsed.load(std::memory_order_relaxed));
            info.set_collapse_timeouts(c.collapse_timeouts.load(std::memory_order_relaxed));
            info.set_stale_error(c.stale_error.load(std::memory_order_relaxed));
            info.set_stale_timeout(c.stale_timeout.load(std::memory_order_relaxed));
            info.set_stale_status(c.stale_status.load(std::memory_order_relaxed));
            info.set_stale_updating(c.stale_updating.load(std::memory_order_relaxed));
            info.set_refreshes(c.refreshes.load(std::memory_order_relaxed));
        }
    });
}

}  // namespace lbd
