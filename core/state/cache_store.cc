// Cache zones; the thread model and the memory bound are in cache_store.h.
#include "core/state/cache_store.h"

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "core/base/hash.h"

namespace lbd {

namespace {

// What an entry costs beyond its strings: the list node, the index entry,
// the object and its control block (roughly; it keeps many tiny objects
// from escaping the bound).
constexpr size_t kEntryOverhead = 256;
// What one tag costs in the shard's tag index beyond its string: the map
// node (or its share of one) and the set node pointing at the object.
constexpr size_t kTagOverhead = 64;

size_t entry_bytes(std::string_view key, const CacheObject& object) { return key.size() + object.bytes(); }

bool matches(std::string_view key, std::string_view target, bool prefix) {
    std::string_view base = key.substr(0, key.find(kCacheVariantSeparator));
    // Without the key's " name=value" parts (key_headers, key_cookie): a
    // request target holds no space, so the first one starts them.
    base = base.substr(0, base.find(' '));
    if (!target.empty() && target.front() == '/') {
        const size_t at = cache_key_path_offset(base);
        if (at == std::string_view::npos) return false;
        base.remove_prefix(at);
    }
    return prefix ? base.starts_with(target) : base == target;
}

// ASCII case-insensitive (header names; core/http1 is above this layer).
bool same_name(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
               return lower(x) == lower(y);
           });
}

}  // namespace

size_t CacheObject::bytes() const {
    size_t n = kEntryOverhead + body_size() + head_lines.size();
    for (const auto& [name, value] : headers) n += name.size() + value.size() + 4;
    for (const std::string& name : vary) n += name.size();
    for (const std::string& tag : tags) n += kTagOverhead + tag.size();
    return n;
}

size_t cache_key_path_offset(std::string_view key) {
    const size_t scheme = key.find("://");
    if (scheme == std::string_view::npos) return std::string_view::npos;
    const size_t path = key.find('/', scheme + 3);
    return path == std::string_view::npos ? key.size() : path;
}

struct CacheZone::Shard {
    struct Node {
        std::string key;  // also the index's key; finds the index entry of the LRU tail
        CacheObjectPtr object;
        size_t bytes = 0;
    };
    using List = std::list<Node>;

    // A fill under way (waiters), or a key recently found uncacheable.
    struct Fill {
        bool filling = false;
        uint64_t pass_until_ms = 0;
        std::vector<std::function<void()>> waiters;
    };

    explicit Shard(size_t cap) : capacity(cap) {}

    void erase(List::iterator it) {
        bytes -= it->bytes;
        index.erase(it->key);
        for (const std::string& tag : it->object->tags) {
            auto t = tag_index.find(tag);
            if (t == tag_index.end()) continue;
            t->second.erase(&*it);
            if (t->second.empty()) tag_index.erase(t);
        }
        lru.erase(it);
    }
    void add(std::string_view key, CacheObjectPtr object, size_t size) {
        lru.push_front({std::string(key), std::move(object), size});
        Node& node = lru.front();
        index.emplace(node.key, lru.begin());
        for (const std::string& tag : node.object->tags) {
            auto t = tag_index.find(tag);
            if (t == tag_index.end()) t = tag_index.emplace(tag, std::unordered_set<const Node*>{}).first;
            t->second.insert(&node);
        }
        bytes += size;
    }

    std::mutex mu;
    List lru;  // most recently used first
    std::unordered_map<std::string_view, List::iterator, ShardKeyHash> index;  // views into the nodes' keys
    // Tag -> the nodes carrying it (list nodes do not move). An entry goes
    // with the last node carrying its tag, so the index never outgrows the
    // objects (whose bytes() count it).
    std::unordered_map<std::string, std::unordered_set<const Node*>, ShardKeyHash, std::equal_to<>> tag_index;
    size_t bytes = 0;
    const size_t capacity;
    std::unordered_map<std::string, Fill, ShardKeyHash, std::equal_to<>> fills;
};

namespace {
// What the objects, stores, evictions and purges counts count: responses,
// not the Vary markers beside them (whose bytes are counted like any).
size_t counted(const CacheObject& object) { return object.is_vary_marker() ? 0 : 1; }

// Past this many fill records a shard forgets its expired hit-for-miss ones
// (a stream of distinct uncacheable URLs must not grow it without bound).
constexpr size_t kMaxFillRecords = 4096;
}  // namespace

FillRole CacheZone::join_fill(std::string_view key, uint64_t now_ms, std::function<void()> wake) {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mu);
    if (shard.fills.size() > kMaxFillRecords)
        std::erase_if(shard.fills, [&](const auto& f) { return !f.second.filling && f.second.pass_until_ms <= now_ms; });
    auto it = shard.fills.find(key);
    if (it == shard.fills.end()) it = shard.fills.emplace(std::string(key), Shard::Fill{}).first;
    Shard::Fill& fill = it->second;
    if (fill.filling) {
        if (!wake) return FillRole::kWait;
        fill.waiters.push_back(std::move(wake));
        counters_.collapsed.fetch_add(1, std::memory_order_relaxed);
        return FillRole::kWait;
    }
    if (fill.pass_until_ms > now_ms) return FillRole::kPass;
    fill.filling = true;
    return FillRole::kFill;
}

void CacheZone::end_fill(std::string_view key, bool uncacheable, uint64_t now_ms) {
    std::vector<std::function<void()>> waiters;
    {
        Shard& shard = shard_for(key);
        std::lock_guard lock(shard.mu);
        auto it = shard.fills.find(key);
        if (it == shard.fills.end()) return;
        waiters = std::move(it->second.waiters);
        if (uncacheable) {
            it->second = Shard::Fill{false, now_ms + kHitForMissMs, {}};
        } else {
            shard.fills.erase(it);
        }
    }
    for (auto& wake : waiters) wake();
}

CacheZone::CacheZone(CacheZoneConfig config) : config_(std::move(config)) {
    // Up to 16 shards, each holding at least four of the largest objects.
    const uint64_t largest = std::max<uint64_t>(1, config_.max_object_bytes + kEntryOverhead);
    const size_t count = std::clamp<uint64_t>(config_.max_bytes / (4 * largest), 1, 16);
    for (size_t i = 0; i < count; ++i) shards_.push_back(std::make_unique<Shard>(config_.max_bytes / count));
}

CacheZone::~CacheZone() = default;

CacheZone::Shard& CacheZone::shard_for(std::string_view key) {
    // Variants of one key share a shard, so a purge of the key finds them together.
    return *shards_[hash64(key.substr(0, key.find(kCacheVariantSeparator))) % shards_.size()];
}

CacheObjectPtr CacheZone::find(std::string_view key) {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.index.find(key);
    if (it == shard.index.end()) return nullptr;
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return it->second->object;
}

bool CacheZone::insert(std::string_view key, CacheObjectPtr object) {
    if (object->body_size() > config_.max_object_bytes) {
        counters_.too_large.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    const size_t size = entry_bytes(key, *object);
    const size_t stored = counted(*object);
    Shard& shard = shard_for(key);
    size_t freed = 0;
    size_t gone = 0;
    {
        std::lock_guard lock(shard.mu);
        if (auto it = shard.index.find(key); it != shard.index.end()) {
            freed += it->second->bytes;
            gone += counted(*it->second->object);
            shard.erase(it->second);
        }
        size_t evicted = 0;
        while (!shard.lru.empty() && shard.bytes + size > shard.capacity) {
            freed += shard.lru.back().bytes;
            evicted += counted(*shard.lru.back().object);
            shard.erase(std::prev(shard.lru.end()));
        }
        shard.add(key, std::move(object), size);
        counters_.evictions.fetch_add(evicted, std::memory_order_relaxed);
        gone += evicted;
    }
    bytes_.fetch_add(size, std::memory_order_relaxed);
    bytes_.fetch_sub(freed, std::memory_order_relaxed);
    objects_.fetch_add(stored, std::memory_order_relaxed);
    objects_.fetch_sub(gone, std::memory_order_relaxed);
    counters_.stores.fetch_add(stored, std::memory_order_relaxed);
    return true;
}

size_t CacheZone::purge(std::string_view target, bool prefix) {
    size_t removed = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        for (auto it = shard->lru.begin(); it != shard->lru.end();) {
            auto next = std::next(it);
            if (matches(it->key, target, prefix)) {
                bytes_.fetch_sub(it->bytes, std::memory_order_relaxed);
                removed += counted(*it->object);
                shard->erase(it);
            }
            it = next;
        }
    }
    objects_.fetch_sub(removed, std::memory_order_relaxed);
    counters_.purged.fetch_add(removed, std::memory_order_relaxed);
    return removed;
}

size_t CacheZone::purge_tag(std::string_view tag) {
    size_t removed = 0;
    std::vector<const Shard::Node*> doomed;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        auto t = shard->tag_index.find(tag);
        if (t == shard->tag_index.end()) continue;
        // Copied out: erasing the nodes changes (and at the last, erases) the set.
        doomed.assign(t->second.begin(), t->second.end());
        for (const Shard::Node* node : doomed) {
            auto it = shard->index.find(node->key)->second;
            bytes_.fetch_sub(it->bytes, std::memory_order_relaxed);
            removed += counted(*it->object);
            shard->erase(it);
        }
    }
    objects_.fetch_sub(removed, std::memory_order_relaxed);
    counters_.purged.fetch_add(removed, std::memory_order_relaxed);
    return removed;
}

size_t CacheZone::tagged(std::string_view tag) {
    size_t n = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        if (auto t = shard->tag_index.find(tag); t != shard->tag_index.end()) n += t->second.size();
    }
    return n;
}

std::vector<std::string> cache_take_tags(const CacheZoneConfig& zone,
                                         std::vector<std::pair<std::string, std::string>>& headers) {
    std::vector<std::string> tags;
    if (zone.tag_header.empty()) return tags;
    for (auto it = headers.begin(); it != headers.end();) {
        if (!same_name(it->first, zone.tag_header)) {
            ++it;
            continue;
        }
        std::string_view rest = it->second;
        while (!rest.empty()) {
            const size_t start = rest.find_first_not_of(" \t,");
            if (start == std::string_view::npos) break;
            rest.remove_prefix(start);
            const size_t end = std::min(rest.find_first_of(" \t,"), rest.size());
            std::string_view tag = rest.substr(0, end);
            if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.emplace_back(tag);
            rest.remove_prefix(end);
        }
        it = zone.strip_tag_header ? headers.erase(it) : std::next(it);
    }
    return tags;
}

CacheZones::CacheZones(const Config& config, const CacheZones* previous) {
    for (const CacheZoneConfig& zone : config.global.cache_zones) {
        std::shared_ptr<CacheZone> kept;
        if (previous != nullptr)
            for (const auto& old : previous->zones_)
                if (old->config() == zone) kept = old;
        zones_.push_back(kept ? kept : std::make_shared<CacheZone>(zone));
    }
}

CacheZone* CacheZones::find(std::string_view name) const {
    for (const auto& zone : zones_)
        if (zone->config().name == name) return zone.get();
    return nullptr;
}

}  // namespace lbd
