// Rate-limit zones; the algorithm and the thread model are in rate_limiter.h.
#include "core/state/rate_limiter.h"

#include <algorithm>

#include "core/base/hash.h"

namespace lbd {

struct RateLimitZone::Shard {
    struct Node {
        std::string key;  // also the map's key; finds the map entry of the LRU tail
        uint64_t tat_us = 0;
    };
    using List = std::list<Node>;

    explicit Shard(size_t cap) : capacity(cap) {}

    std::mutex mu;
    List lru;  // most recently seen first
    std::unordered_map<std::string, List::iterator, ShardKeyHash, std::equal_to<>> index;
    const size_t capacity;
};

namespace {

uint64_t interval_of(const HttpRateLimitZoneConfig& c) {
    // At least 1 us: a rate above a million per second is no limit anyway.
    return std::max<uint64_t>(1, uint64_t{c.period_ms} * 1000 / std::max<uint32_t>(1, c.requests));
}

}  // namespace

RateLimitZone::RateLimitZone(HttpRateLimitZoneConfig config, size_t shard_count)
    : config_(std::move(config)), interval_us_(interval_of(config_)), tolerance_us_(interval_us_ * config_.burst) {
    shard_count = std::max<size_t>(1, shard_count);
    const size_t per_shard = std::max<size_t>(1, config_.capacity / shard_count);
    for (size_t i = 0; i < shard_count; ++i) shards_.push_back(std::make_unique<Shard>(per_shard));
}

RateLimitZone::~RateLimitZone() = default;

RateLimitZone::Shard& RateLimitZone::shard_for(std::string_view key) {
    return *shards_[hash64(key) % shards_.size()];
}

RateDecision RateLimitZone::check(std::string_view key, uint64_t now_us) {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.index.find(key);
    if (it == shard.index.end()) {
        // A key not seen (or forgotten) conforms: its TAT would be <= now.
        if (shard.index.size() >= shard.capacity) {
            shard.index.erase(shard.lru.back().key);
            shard.lru.pop_back();
        }
        shard.lru.push_front({std::string(key), now_us + interval_us_});
        shard.index.emplace(shard.lru.front().key, shard.lru.begin());
        allowed_.fetch_add(1, std::memory_order_relaxed);
        return {};
    }
    Shard::Node& node = *it->second;
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    const uint64_t tat = std::max(node.tat_us, now_us);
    if (tat - now_us > tolerance_us_) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return {false, tat - now_us - tolerance_us_};
    }
    node.tat_us = tat + interval_us_;
    allowed_.fetch_add(1, std::memory_order_relaxed);
    return {};
}

RateDecision RateLimitZone::peek(std::string_view key, uint64_t now_us) {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.index.find(key);
    if (it == shard.index.end()) return {};
    const uint64_t tat = std::max(it->second->tat_us, now_us);
    if (tat - now_us > tolerance_us_) return {false, tat - now_us - tolerance_us_};
    return {};
}

size_t RateLimitZone::size() const {
    size_t n = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        n += shard->index.size();
    }
    return n;
}

std::string basic_auth_zone_name(const HttpRouteConfig& route, size_t index) {
    return "basic_auth:" + (route.name.empty() ? "#" + std::to_string(index + 1) : route.name);
}

HttpRateLimitZoneConfig basic_auth_zone(const HttpRouteConfig& route, size_t index) {
    HttpRateLimitZoneConfig zone;
    zone.name = basic_auth_zone_name(route, index);
    zone.requests = std::max<uint32_t>(1, route.basic_auth->max_failures);
    zone.period_ms = 60000;
    zone.burst = zone.requests - 1;
    return zone;
}

RateLimitZones::RateLimitZones(const Config& config, const RateLimitZones* previous) {
    for (const ListenerConfig& listener : config.listeners) {
        std::vector<HttpRateLimitZoneConfig> zones = listener.http.rate_limit_zones;
        for (size_t i = 0; i < listener.http.routes.size(); ++i)
            if (listener.http.routes[i].basic_auth) zones.push_back(basic_auth_zone(listener.http.routes[i], i));
        for (const HttpRateLimitZoneConfig& zone : zones) {
            std::shared_ptr<RateLimitZone> kept;
            if (previous != nullptr)
                for (const auto& [name, old] : previous->zones_)
                    if (name == listener.name && old->config() == zone) kept = old;
            zones_.emplace_back(listener.name, kept ? kept : std::make_shared<RateLimitZone>(zone));
        }
    }
}

RateLimitZone* RateLimitZones::find(std::string_view listener, std::string_view zone) const {
    for (const auto& [name, z] : zones_)
        if (name == listener && z->config().name == zone) return z.get();
    return nullptr;
}

}  // namespace lbd
