// The response cache's memory: zones of stored objects shared by every
// worker (a hit on any worker for an object any worker stored). HTTP's
// rules (what may be stored, for how long, which variant) are l7's
// (l7/cache_policy.h); this file keeps bytes under keys.
//
// Thread model: a zone's keys are split into shards, each with its own
// mutex, hash index and LRU list (as RateLimitZone), so workers contend only
// when two keys hash to the same shard. Objects are immutable once inserted
// and handed out as shared_ptr<const CacheObject>: a worker serves a hit
// with no lock held, and an object replaced or evicted meanwhile lives until
// its last reader is done.
//
// Memory: each shard holds at most max_bytes / shards (heads, bodies and
// keys counted); inserting past it evicts the least recently used objects
// of that shard first. The shard count is chosen so that a shard holds at
// least four objects of max_object_bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/config.h"

namespace lbd {

// One stored response (or, with `vary` set and no status, the marker under
// a key whose responses vary: it lists the request headers that pick the
// variant, each variant being stored under its own key, and carries the
// tags of the variant stored with it, so a purge by tag takes it too). A
// marker is not counted as an object, a store, an eviction or a purge.
struct CacheObject {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // no hop-by-hop, no Content-Length
    // `headers` as HTTP/1 field lines ("Name: value\r\n" each), made by l7
    // once when it stores the object, so that a hit to an HTTP/1 client
    // writes them as one block instead of copying and formatting each field.
    std::string head_lines;
    // Shared and immutable: a 304 refresh stores new headers with the same
    // bytes, and a hit sends them by reference, with no copy.
    std::shared_ptr<const std::string> body;
    int64_t response_time_s = 0;       // wall clock, when the response came
    uint64_t initial_age_s = 0;        // RFC 9111 §4.2.3 corrected_initial_age
    uint64_t lifetime_s = 0;           // freshness_lifetime
    bool revalidate = false;           // no-cache: ask the server before each use
    // RFC 9111 §4.2.4: must-revalidate, proxy-revalidate, s-maxage or
    // no-cache forbid serving it stale, even when the server fails.
    bool no_stale = false;
    uint64_t stale_if_error_s = 0;     // RFC 5861 stale-if-error=N (0: none)
    uint64_t stale_while_revalidate_s = 0;  // RFC 5861 stale-while-revalidate=N (0: none)
    std::vector<std::string> vary;     // lower-case request header names
    std::vector<std::string> tags;     // from the zone's tag_header (CacheZone::purge_tag)
    size_t bytes() const;
    size_t body_size() const { return body ? body->size() : 0; }
    bool is_vary_marker() const { return status == 0; }
};

using CacheObjectPtr = std::shared_ptr<const CacheObject>;

struct CacheZoneCounters {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> stores{0};
    std::atomic<uint64_t> evictions{0};
    std::atomic<uint64_t> purged{0};
    std::atomic<uint64_t> too_large{0};  // passed through, over max_object_bytes
    // Passed through: the Content-Type does not fit the path's extension (l7/cache_extension.h).
    std::atomic<uint64_t> extension_mismatch{0};
    std::atomic<uint64_t> collapsed{0};  // misses that waited for another request's fill
    std::atomic<uint64_t> collapse_timeouts{0};  // of those, waits that ran out (the waiter went to the server)
    // Stale entries served instead of a server failure (stale-if-error), by
    // cause: no connection or a broken one, a timeout, a 500/502/503/504.
    std::atomic<uint64_t> stale_error{0};
    std::atomic<uint64_t> stale_timeout{0};
    std::atomic<uint64_t> stale_status{0};
    // Stale entries sent at once while a background request refreshes them (stale-while-revalidate).
    std::atomic<uint64_t> stale_updating{0};
    std::atomic<uint64_t> refreshes{0};  // background refreshes started
};

// What a miss does about other requests fetching the same key (collapsing).
enum class FillRole : uint8_t {
    kFill,  // none under way: this request fetches it and must end_fill() once
    kWait,  // another request fetches it: `wake` runs when that fill ends
    kPass,  // the key was found uncacheable a moment ago (Varnish's hit-for-miss): just go to the server
};

class CacheZone {
public:
    explicit CacheZone(CacheZoneConfig config);
    ~CacheZone();
    CacheZone(const CacheZone&) = delete;
    CacheZone& operator=(const CacheZone&) = delete;

    const CacheZoneConfig& config() const { return config_; }

    // The object under `key`, made most recently used; null if none. Any thread.
    CacheObjectPtr find(std::string_view key);
    // Stores `object` under `key` (replacing what was there), evicting the
    // shard's least recently used objects to stay under its bound. False
    // (nothing stored) when the object is larger than max_object_bytes.
    // Any thread.
    bool insert(std::string_view key, CacheObjectPtr object);
    // Removes `target`: an exact key (with its variants), or, when it starts
    // with '/', every key whose path and query are `target` whatever the
    // scheme and host. `prefix`: every key (or path) that starts with it.
    // Returns how many objects went. Any thread; takes every shard's lock
    // in turn.
    size_t purge(std::string_view target, bool prefix);
    // Removes every object whose tags (CacheObject::tags, from the zone's
    // tag_header) include `tag`, found through each shard's tag index
    // rather than by walking the objects. Returns how many went. Any thread.
    size_t purge_tag(std::string_view tag);
    // Objects indexed under `tag` (tests and inspection). Any thread.
    size_t tagged(std::string_view tag);

    // Request collapsing: concurrent misses on one key make one request to
    // the server. The first miss fills (kFill); later ones wait (kWait) and
    // their `wake` runs, on the thread that ends the fill and with no lock
    // held, once end_fill() is called; they then look the key up again.
    // An empty `wake` does not wait: kWait only says a fill is under way
    // (a background refresh starts only when it gets kFill). Any thread.
    FillRole join_fill(std::string_view key, uint64_t now_ms, std::function<void()> wake);
    // Ends the fill of `key`: the object was stored (or the fill failed:
    // the waiters look up, miss, and go to the server themselves), or,
    // `uncacheable`, the response may not be stored: the waiters go to the
    // server at once and misses on `key` do not wait for kHitForMissMs.
    void end_fill(std::string_view key, bool uncacheable, uint64_t now_ms);
    static constexpr uint64_t kHitForMissMs = 10000;

    size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    // Stored responses (Vary markers not counted).
    size_t objects() const { return objects_.load(std::memory_order_relaxed); }
    CacheZoneCounters& counters() { return counters_; }
    const CacheZoneCounters& counters() const { return counters_; }

private:
    struct Shard;
    Shard& shard_for(std::string_view key);

    const CacheZoneConfig config_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<size_t> bytes_{0};
    std::atomic<size_t> objects_{0};
    CacheZoneCounters counters_;
};

// Every zone of one configuration. A reload hands over a zone whose
// settings did not change, objects and counters included.
class CacheZones {
public:
    CacheZones(const Config& config, const CacheZones* previous);
    // The zone, or null. The pointer lives as long as this set.
    CacheZone* find(std::string_view name) const;
    const std::vector<std::shared_ptr<CacheZone>>& all() const { return zones_; }

private:
    std::vector<std::shared_ptr<CacheZone>> zones_;
};

// Where a key's path starts: after "scheme://host" (the default key's
// form); npos for a key of another form.
size_t cache_key_path_offset(std::string_view key);

// The tags of a response for a zone with a tag_header: the values of every
// such header, split on spaces and commas, duplicates dropped. The header
// is removed from `headers` when the zone strips it (clients never see it,
// nor does the stored object). Nothing, and `headers` untouched, for a zone
// without a tag_header.
std::vector<std::string> cache_take_tags(const CacheZoneConfig& zone,
                                         std::vector<std::pair<std::string, std::string>>& headers);

// The separator between a key and a variant's request header values.
inline constexpr char kCacheVariantSeparator = '\x1f';

}  // namespace lbd
