// A stick table: client key -> server name, with TTL and LRU eviction.
//
// Used for source-IP stickiness at L4 (key = the client's IP bytes) and for
// cookie stickiness at L7. The HA peer-sync replicates it: snapshot() gives
// the whole table, every local set()/erase() is reported to the change
// listener, and apply() takes a change from the peer (and does not report
// it back, so changes never echo between peers).
//
// Thread model: the table is split into shards, each with its own mutex and
// LRU list, so workers contend only when two keys hash to the same shard.
// Capacity is enforced per shard (capacity / shards each, at least 1).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lbd {

struct StickEntry {
    std::string key;
    // Server name (its identity within the pool, shared by HA peers).
    std::string server;
    // Milliseconds until the entry expires.
    uint32_t ttl_remaining_ms = 0;
};

struct StickChange {
    enum class Kind : uint8_t { kSet, kErase };
    Kind kind = Kind::kSet;
    std::string key;
    std::string server;
    uint32_t ttl_remaining_ms = 0;
};

class StickTable {
public:
    using ChangeListener = std::function<void(const StickChange&)>;

    StickTable(std::string name, uint32_t ttl_ms, size_t capacity, size_t shard_count = 16);
    ~StickTable();

    const std::string& name() const { return name_; }
    uint32_t ttl_ms() const { return ttl_ms_; }
    size_t capacity() const { return capacity_; }

    // The server for `key`, refreshing its TTL and LRU position; nullopt if
    // absent or expired. `now_ms` is CLOCK_MONOTONIC milliseconds. A refresh
    // that moved the expiry by more than ttl/2 since the listener last heard
    // of the entry is reported as a set (stick_table.cc says why).
    std::optional<std::string> lookup(std::string_view key, uint64_t now_ms);
    // Maps key -> server with a fresh TTL, evicting the least recently used
    // entry of the shard when it is full. Reports the change.
    void set(std::string_view key, std::string_view server, uint64_t now_ms);
    // Removes the key if present; reports the change if it was.
    void erase(std::string_view key);
    // Removes every entry (reports nothing; the caller syncs a snapshot).
    void clear();

    // Every live entry with its remaining TTL.
    std::vector<StickEntry> snapshot(uint64_t now_ms) const;
    // A change from the HA peer; not reported to the listener.
    void apply(const StickChange& change, uint64_t now_ms);
    // Drops expired entries; returns how many.
    size_t expire(uint64_t now_ms);

    size_t size() const;
    uint64_t evictions() const;

    // At most one listener; set before workers start.
    void set_change_listener(ChangeListener listener);
    bool has_change_listener() const { return static_cast<bool>(listener_); }

private:
    struct Shard;
    Shard& shard_for(std::string_view key) const;

    std::string name_;
    uint32_t ttl_ms_;
    size_t capacity_;
    std::vector<std::unique_ptr<Shard>> shards_;
    ChangeListener listener_;
};

}  // namespace lbd
