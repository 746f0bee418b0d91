// SyncState: a full snapshot built a slice at a time (sync_state.h says why
// and what a slice sees of the writes between steps).
#include "ha/sync_state.h"

namespace lbd::ha {

void SyncState::begin_snapshot(size_t chunk_size) {
    drop_queue(false);
    needs_snapshot_ = false;
    // Every local write so far is in the records; later ones queue after it.
    floor_ = sent_up_to_ = clock_;
    building_.emplace(chunk_size, clock_, kMaxBatchBytes, sticks_.size());
    build_cursor_ = 0;
    build_buckets_ = sticks_.bucket_count();
    // Health records and purges are few (servers; kMaxPurges): all at once.
    for (const auto& [key, entry] : health_) {
        *building_->room_for(entry.record.ByteSizeLong()).add_health() = entry.record;
    }
    // Only our own purges: the peer's are its to resend (no echo).
    for (const auto& [key, entry] : purges_) {
        if (!peer_takes(key) || key.origin != options_.node_id) continue;
        size_t bytes = key.zone.size() + key.target.size() + key.tag.size() + key.origin.size() + 48;
        fill_purge(key, entry, building_->room_for(bytes).add_purges());
    }
}

std::vector<lbd::v1::Snapshot> SyncState::snapshot_step(uint64_t now_ms, size_t max_buckets) {
    if (!building_) return {};
    if (sticks_.bucket_count() != build_buckets_) {
        build_cursor_ = 0;
        build_buckets_ = sticks_.bucket_count();
    }
    size_t end = std::min(build_buckets_, build_cursor_ + std::max<size_t>(max_buckets, 1));
    for (; build_cursor_ < end; ++build_cursor_) {
        for (auto it = sticks_.begin(build_cursor_); it != sticks_.end(build_cursor_); ++it) {
            const auto& [key, entry] = *it;
            if (entry.expires_at_ms <= now_ms) continue;
            // Upper bound of the encoded size: the strings, plus tags, lengths and varints.
            size_t bytes = key.pool.size() + key.key.size() + entry.server.size() + entry.node_id.size() + 48;
            fill_record(key, entry, now_ms, building_->room_for(bytes).add_sticks());
        }
    }
    if (build_cursor_ < build_buckets_) return building_->take_full();
    std::vector<lbd::v1::Snapshot> out = building_->finish();
    building_.reset();
    return out;
}

}  // namespace lbd::ha
