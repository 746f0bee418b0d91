// Request-rate limiting: the zones of a configuration and their counters.
//
// Each key (a client address, an API key) has one number, its theoretical
// arrival time (TAT) in the Generic Cell Rate Algorithm (ITU-T I.371, the
// algorithm behind nginx's limit_req and most token buckets done right):
// with T = period / requests and tolerance tau = burst * T, a request at
// `now` conforms when TAT - now <= tau, and then TAT = max(TAT, now) + T.
// One integer per key instead of a token count and a timestamp, no timer,
// and a request over the limit learns exactly when it would conform
// (Retry-After).
//
// Thread model: a zone is shared by every worker. Keys are split into
// shards, each with its own mutex and LRU list (as StickTable), so workers
// contend only when two keys hash to the same shard; `capacity` bounds the
// memory, the least recently seen key of a shard being forgotten first.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config/config.h"

namespace lbd {

struct RateDecision {
    bool allowed = true;
    // When refused: microseconds until the same request would conform.
    uint64_t retry_after_us = 0;
};

class RateLimitZone {
public:
    explicit RateLimitZone(HttpRateLimitZoneConfig config, size_t shard_count = 16);
    ~RateLimitZone();
    RateLimitZone(const RateLimitZone&) = delete;
    RateLimitZone& operator=(const RateLimitZone&) = delete;

    const HttpRateLimitZoneConfig& config() const { return config_; }

    // Counts one request of `key` at `now_us` (CLOCK_MONOTONIC microseconds).
    // Any thread.
    RateDecision check(std::string_view key, uint64_t now_us);
    // Whether one more of `key` would conform now, without counting it (the
    // basic-auth failure limit counts failures only, and asks before
    // hashing). Any thread.
    RateDecision peek(std::string_view key, uint64_t now_us);

    size_t size() const;
    uint64_t allowed() const { return allowed_.load(std::memory_order_relaxed); }
    uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

private:
    struct Shard;
    Shard& shard_for(std::string_view key);

    const HttpRateLimitZoneConfig config_;
    const uint64_t interval_us_;   // T
    const uint64_t tolerance_us_;  // tau
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<uint64_t> allowed_{0};
    std::atomic<uint64_t> refused_{0};
};

// The zone counting a basic_auth route's wrong passwords per client
// (l7/basic_auth.h): "basic_auth:NAME", or "basic_auth:#N" for an unnamed
// route (N from 1). About `max_failures` a minute: that many at once, then
// one more every 60 s / max_failures.
std::string basic_auth_zone_name(const HttpRouteConfig& route, size_t index);
HttpRateLimitZoneConfig basic_auth_zone(const HttpRouteConfig& route, size_t index);

// Every zone of one configuration, by listener and zone name (the
// configured zones, then one per basic_auth route). A reload hands
// over a zone whose settings did not change, counters and all (a reload must
// not be a way around a limit); a changed zone starts empty.
class RateLimitZones {
public:
    RateLimitZones(const Config& config, const RateLimitZones* previous);

    // The zone, or null. The pointer lives as long as this set.
    RateLimitZone* find(std::string_view listener, std::string_view zone) const;
    // Every zone with its listener's name, in config order.
    const std::vector<std::pair<std::string, std::shared_ptr<RateLimitZone>>>& all() const { return zones_; }

private:
    std::vector<std::pair<std::string, std::shared_ptr<RateLimitZone>>> zones_;
};

}  // namespace lbd
