// What the peer-sync state keeps and for how long: expiry of stick records
// and tombstones, cache purges, inspection. The rules are at the top of
// sync_state.h. Purges live here, apart from the records of sync_state.cc,
// because they are events kept for a while, not records that converge.
#include <vector>

#include "core/base/log.h"
#include "ha/sync_state.h"

namespace lbd::ha {

using lbd::v1::ServerHealth;
using lbd::v1::StickRecord;

namespace {

bool valid_purge(const lbd::v1::CachePurge& purge) {
    // The same bounds as stick keys: a target is a cache key or a path.
    // Exactly one of target and tag; a tag is never a prefix.
    const bool by_tag = !purge.tag().empty();
    return !purge.zone().empty() && purge.zone().size() <= kMaxNameBytes && purge.target().empty() == by_tag &&
           purge.target().size() <= kMaxStickKeyBytes && purge.tag().size() <= kMaxStickKeyBytes &&
           !(by_tag && purge.prefix());
}

}  // namespace

// --- housekeeping and inspection ---------------------------------------------

size_t SyncState::expire(uint64_t now_ms) {
    expire_purges(now_ms);
    size_t dropped = 0;
    for (auto it = sticks_.begin(); it != sticks_.end();) {
        if (it->second.expires_at_ms > now_ms) {
            ++it;
            continue;
        }
        dequeue(it->second.queued_at);
        it = sticks_.erase(it);
        ++dropped;
    }
    return dropped;
}

size_t SyncState::expire_step(uint64_t now_ms, size_t max_buckets) {
    expire_purges(now_ms);  // at most kMaxPurges: cheap enough for every step
    size_t dropped = 0;
    std::vector<StickKey> expired;
    for (size_t walked = 0; walked < max_buckets && !sticks_.empty(); ++walked) {
        // A rehash since the last call changes the bucket count: the cursor
        // wraps, and a record missed this sweep is dropped by the next one.
        size_t bucket = expire_cursor_++ % sticks_.bucket_count();
        for (auto it = sticks_.begin(bucket); it != sticks_.end(bucket); ++it)
            if (it->second.expires_at_ms <= now_ms) expired.push_back(it->first);
        for (const StickKey& key : expired) {
            auto it = sticks_.find(key);
            dequeue(it->second.queued_at);
            sticks_.erase(it);
            ++dropped;
        }
        expired.clear();
    }
    return dropped;
}

SnapshotRecords SyncState::records(uint64_t now_ms) const {
    SnapshotRecords out;
    out.health.reserve(health_.size());
    for (const auto& [key, entry] : health_) out.health.push_back(entry.record);
    out.sticks.reserve(sticks_.size());
    for (const auto& [key, entry] : sticks_) {
        if (entry.expires_at_ms > now_ms) fill_record(key, entry, now_ms, &out.sticks.emplace_back());
    }
    for (const auto& [key, entry] : purges_) {
        if (key.origin == options_.node_id) fill_purge(key, entry, &out.purges.emplace_back());
    }
    out.covers_sequence = clock_;
    return out;
}

std::optional<ServerHealth> SyncState::find_health(std::string_view pool, std::string_view server) const {
    auto it = health_.find(HealthKey{std::string(pool), std::string(server)});
    if (it == health_.end()) return std::nullopt;
    return it->second.record;
}

std::optional<StickRecord> SyncState::find_stick(std::string_view pool, StickRecord::Kind kind, std::string_view key,
                                                 uint64_t now_ms) const {
    StickKey stick_key{std::string(pool), kind, std::string(key)};
    auto it = sticks_.find(stick_key);
    if (it == sticks_.end() || it->second.erased || it->second.expires_at_ms <= now_ms) return std::nullopt;
    StickRecord out;
    fill_record(stick_key, it->second, now_ms, &out);
    return out;
}

// --- cache purges --------------------------------------------------------------

uint64_t SyncState::record_local(lbd::v1::CachePurge purge, uint64_t now_ms) {
    if (!valid_purge(purge)) return 0;
    uint64_t sequence = next_sequence();
    PurgeKey key{options_.node_id, purge.zone(), purge.target(), purge.prefix(), purge.tag()};
    PurgeEntry& entry = keep_purge(key);
    entry.sequence = sequence;
    entry.expires_at_ms = now_ms + kPurgeKeepMs;
    // A repeat of the same purge replaces the queued one (coalescing).
    enqueue(sequence, std::move(key), entry.queued_at);
    return sequence;
}

SyncState::Applied SyncState::merge_purge(const lbd::v1::CachePurge& purge, uint64_t now_ms) {
    const lbd::v1::Version& version = purge.version();
    if (!valid_purge(purge) || !valid_version(version)) return Applied::kInvalid;
    see(version);
    // Our own purge coming back (a peer should never send it): applied here
    // already when it was made.
    if (version.node_id() == options_.node_id) return Applied::kUnchanged;
    PurgeKey key{version.node_id(), purge.zone(), purge.target(), purge.prefix(), purge.tag()};
    if (auto it = purges_.find(key); it != purges_.end() && it->second.sequence >= version.sequence()) {
        return Applied::kUnchanged;  // this one (or a later repeat) is applied already
    }
    PurgeEntry& entry = keep_purge(std::move(key));
    entry.sequence = version.sequence();
    entry.expires_at_ms = now_ms + kPurgeKeepMs;
    return Applied::kChanged;
}

// The entry for `key`, made room for under kMaxPurges by dropping the oldest.
SyncState::PurgeEntry& SyncState::keep_purge(PurgeKey key) {
    if (purges_.size() >= kMaxPurges && purges_.find(key) == purges_.end()) {
        auto oldest = purges_.begin();
        for (auto it = purges_.begin(); it != purges_.end(); ++it) {
            if (it->second.sequence < oldest->second.sequence) oldest = it;
        }
        // A queued one still goes out if the queue is kept; a snapshot no longer has it.
        if (purges_dropped_++ == 0) {
            LOG_WARN("peer sync: more than %zu cache purges kept; dropping the oldest (zone %s)", kMaxPurges,
                     oldest->first.zone.c_str());
        }
        dequeue(oldest->second.queued_at);
        purges_.erase(oldest);
    }
    return purges_[std::move(key)];
}

void SyncState::expire_purges(uint64_t now_ms) {
    for (auto it = purges_.begin(); it != purges_.end();) {
        const PurgeEntry& entry = it->second;
        // An own purge the peer has not acknowledged is still owed to it.
        bool owed = it->first.origin == options_.node_id && entry.sequence > acked_up_to_;
        if (entry.expires_at_ms > now_ms || owed) {
            ++it;
            continue;
        }
        dequeue(it->second.queued_at);
        it = purges_.erase(it);
    }
}

void SyncState::fill_purge(const PurgeKey& key, const PurgeEntry& entry, lbd::v1::CachePurge* out) const {
    out->set_zone(key.zone);
    out->set_target(key.target);
    out->set_prefix(key.prefix);
    if (!key.tag.empty()) out->set_tag(key.tag);
    out->mutable_version()->set_sequence(entry.sequence);
    out->mutable_version()->set_node_id(key.origin);
}

bool SyncState::purge_change(const PurgeKey& key, uint64_t sequence, lbd::v1::Change* change) const {
    auto it = purges_.find(key);
    if (it == purges_.end() || it->second.sequence != sequence || key.origin != options_.node_id) return false;
    fill_purge(key, it->second, change->mutable_purge());
    return true;
}

}  // namespace lbd::ha
