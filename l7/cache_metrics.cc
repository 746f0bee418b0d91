// The lbd_http_cache_* metrics of the response cache zones (cache_filter.h).
#include "l7/cache_metrics.h"

#include <atomic>
#include <utility>

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
        {"lbd_http_cache_extension_mismatch_total", "counter",
         "Responses passed through unstored: their Content-Type does not fit the path's file extension "
         "(cache deception armor).",
         [](const CacheZone& z) -> uint64_t { return z.counters().extension_mismatch.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_collapsed_total", "counter", "Misses that waited for another request's fetch of the key.",
         [](const CacheZone& z) -> uint64_t { return z.counters().collapsed.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_collapse_timeouts_total", "counter",
         "Collapsed misses whose wait ran out, so they asked the server themselves.",
         [](const CacheZone& z) -> uint64_t { return z.counters().collapse_timeouts.load(std::memory_order_relaxed); }},
        {"lbd_http_cache_refreshes_total", "counter",
         "Background requests that refreshed a stale entry served meanwhile (stale-while-revalidate).",
         [](const CacheZone& z) -> uint64_t { return z.counters().refreshes.load(std::memory_order_relaxed); }},
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
    // stale-if-error by cause: one counter with a cause label.
    static constexpr const char* kStale = "lbd_http_cache_stale_total";
    metric_header(out, kStale, "counter",
                  "Stale responses sent, by cause: instead of a server failure (stale-if-error): error (no or a "
                  "broken connection), timeout, status (500/502/503/504); updating: while a background request "
                  "refreshes the entry (stale-while-revalidate).");
    for (const auto& zone : zones.all()) {
        const CacheZoneCounters& c = zone->counters();
        const std::pair<const char*, const std::atomic<uint64_t>*> causes[] = {
            {"error", &c.stale_error}, {"timeout", &c.stale_timeout}, {"status", &c.stale_status},
            {"updating", &c.stale_updating}};
        for (const auto& [cause, counter] : causes)
            metric_sample(out, kStale, {{"zone", zone->config().name}, {"cause", cause}},
                          double(counter->load(std::memory_order_relaxed)));
    }
}

}  // namespace lbd::l7
