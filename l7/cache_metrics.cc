// The lbd_http_cache_* metrics of the response cache zones (cache_filter.h).
#include "l7/cache_metrics.h"

#include "core/admin/admin_http.h"

namespace lbd::l7 {

void write_cache_metrics(const CacheZones& zones, std::string& out) {
    if (zones.all().empty()) return;
    using Read = uint64_t (*)(const CacheZone&);
    struct Metric {
        const char* name;
        const char* type;
        const char* help;
        Read read;
    };
    static constexpr Metric kMetrics[] = {
        {"lbd_http_cache_hits_total", "counter", "Requests answered from a cache zone (fresh, or revalidated by a 304).",
         [](const CacheZone& z) -> uint64_t { return z.counters().hits.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_misses_total", "counter", "Cacheable requests a cache zone could not answer (absent or stale).",
         [](const CacheZone& z) -> uint64_t { return z.counters().misses.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_stores_total", "counter", "Responses stored in a cache zone.",
         [](const CacheZone& z) -> uint64_t { return z.counters().stores.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_evictions_total", "counter", "Objects a cache zone dropped to stay under max_bytes.",
         [](const CacheZone& z) -> uint64_t { return z.counters().evictions.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_purged_total", "counter", "Objects removed by lbctl cache purge.",
         [](const CacheZone& z) -> uint64_t { return z.counters().purged.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_too_large_total", "counter", "Responses passed through unstored: over max_object_bytes.",
         [](const CacheZone& z) -> uint64_t { return z.counters().too_large.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_collapsed_total", "counter", "Misses that waited for another request's fetch of the key.",
         [](const CacheZone& z) -> uint64_t { return z.counters().collapsed.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_bytes", "gauge", "Bytes a cache zone holds now (heads, bodies, keys).",
         [](const CacheZone& z) -> uint64_t { return z.bytes(); }},
        {"lbd_http_cache_objects", "gauge", "Objects a cache zone holds now.",
         [](const CacheZone& z) -> uint64_t { return z.objects(); }},
    };
    for (const Metric& metric : kMetrics) {
        metric_header(out, metric.name, metric.type, metric.help);
        for (const auto& zone : zones.all())
            metric_sample(out, metric.name, {{"zone", zone->config().name}}, double(metric.read(*zone)));
    }
}

}  // namespace lbd::l7
