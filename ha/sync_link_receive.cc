// The peer-sync link: what the peer sends us applied (snapshot chunks a
// slice per loop turn, changes) and what it acknowledges of ours (acks and
// the replication lag). sync_link.h has the machine; sync_state.h the rules.
#include <event2/bufferevent.h>

#include <algorithm>
#include <cmath>

#include "core/base/log.h"
#include "ha/sync_link_impl.h"

namespace lbd::ha {

using Impl = SyncLink::Impl;

// --- from the peer ---------------------------------------------------------------

void Impl::on_snapshot(Connection* c, lbd::v1::Snapshot& chunk) {
    // Moved, not copied: a chunk holds thousands of records.
    c->inbound.emplace();
    c->inbound->Swap(&chunk);
    c->inbound_cursor = 0;
    apply_inbound(c);
}

void Impl::apply_inbound(Connection* c) {
    const lbd::v1::Snapshot& chunk = *c->inbound;
    SyncState::SnapshotWinners winners;
    size_t changed = 0;
    bool ok = state_.apply_snapshot_part(chunk, monotonic_ms(), &c->inbound_cursor, kApplySliceRecords, &changed,
                                         &winners);
    // What merged stays merged in SyncState, so the tables get it too.
    for (int i : winners.health) observer_.remote_health(chunk.health(i));
    for (int i : winners.sticks) observer_.remote_stick(chunk.sticks(i));
    for (int i : winners.purges) observer_.remote_purge(chunk.purges(i));
    stats_.purges_received += winners.purges.size();
    c->snapshot_changed += changed;
    if (!ok) {
        LOG_WARN("peer sync: snapshot chunk %u from %s is out of order or invalid; closing", chunk.chunk_index(),
                 c->name().c_str());
        return close(c, "protocol error: bad snapshot chunk", Backoff::kNormal);
    }
    size_t records = static_cast<size_t>(chunk.health_size() + chunk.sticks_size() + chunk.purges_size());
    if (c->inbound_cursor < records || c->reads_paused) {
        // More of this chunk, or the frames after it, on the next turn: the
        // loop polls the sockets and runs the tick (heartbeats) in between.
        if (!c->reads_paused) bufferevent_disable(c->bev, EV_READ);
        c->reads_paused = true;
        arm_timer(apply_timer_.get(), 0);
        if (c->inbound_cursor < records) return;
    }
    c->snapshot_records += static_cast<uint64_t>(chunk.health_size() + chunk.sticks_size());
    bool last = chunk.last();
    uint32_t chunks = chunk.chunk_index() + 1;
    c->inbound.reset();
    if (!last) return;
    ++stats_.snapshots_received;
    LOG_INFO("peer sync: snapshot from %s applied: %u chunks, %llu records, %llu changed here", c->name().c_str(),
             chunks, static_cast<unsigned long long>(c->snapshot_records),
             static_cast<unsigned long long>(c->snapshot_changed));
    c->snapshot_records = c->snapshot_changed = 0;
    c->ack_pending = true;
    schedule_flush();
}

void Impl::resume_inbound() {
    Connection* c = conn_.get();
    if (c == nullptr || c->closed || !c->reads_paused) return;
    if (c->inbound) return apply_inbound(c);
    // The chunk is done: what the reader already holds, then the socket again.
    c->reads_paused = false;
    read_frames(c);
    if (!c->closed && !c->reads_paused) bufferevent_enable(c->bev, EV_READ);
}

void Impl::on_changes(Connection* c, const lbd::v1::Changes& changes) {
    uint64_t now = monotonic_ms();
    for (const auto& change : changes.changes()) {
        switch (state_.apply_remote(change, now)) {
            case SyncState::Applied::kChanged:
                if (change.has_health()) observer_.remote_health(change.health());
                if (change.has_stick()) observer_.remote_stick(change.stick());
                if (change.has_purge()) {
                    ++stats_.purges_received;
                    observer_.remote_purge(change.purge());
                }
                break;
            case SyncState::Applied::kUnchanged: break;
            case SyncState::Applied::kInvalid:
                // Authentic, so a bug or a newer peer: skip the record rather
                // than drop the link over it again and again.
                if (stats_.invalid_records++ == 0) {
                    LOG_WARN("peer sync: skipped an invalid record from %s (origin %s, sequence %llu)",
                             c->name().c_str(), printable(change.origin(), 64).c_str(),
                             static_cast<unsigned long long>(change.sequence()));
                }
                break;
        }
    }
    c->ack_pending = true;
    schedule_flush();
}

void Impl::on_ack(Connection* c, const lbd::v1::Ack& ack) {
    state_.on_ack(ack);
    std::optional<uint64_t> acked;
    for (const auto& entry : ack.applied()) {
        if (entry.node_id() == state_.node_id() && entry.boot_epoch() == c->hello.boot_epoch()) {
            acked = entry.sequence();
        }
    }
    if (!acked) return;
    uint64_t now = monotonic_ms();
    while (!marks_.empty() && marks_.front().sequence <= *acked) {
        observe_lag(now - std::min(now, marks_.front().at_ms));
        marks_.pop_front();
    }
    if (c->snapshot_unacked && *acked >= *c->snapshot_unacked) c->snapshot_unacked.reset();
    // Marks left while nothing is outstanding belong to local writes that a
    // newer write of the peer replaced: they will never be acked one by one.
    if (all_acked()) marks_.clear();
}

// --- lag and acks --------------------------------------------------------------

void Impl::observe_lag(uint64_t ms) {
    lag_.observe(ms);
    ++stats_.lag_samples;
    uint32_t sample = static_cast<uint32_t>(std::min<uint64_t>(ms, UINT32_MAX));
    if (lag_window_.size() < kLagWindow) {
        lag_window_.push_back(sample);
    } else {
        lag_window_[lag_next_] = sample;
        lag_next_ = (lag_next_ + 1) % kLagWindow;
    }
}

bool Impl::all_acked() const {
    const Connection* c = conn_.get();
    return c != nullptr && !c->closed && c->phase == Phase::kUp && !state_.needs_snapshot() &&
           !state_.snapshot_building() && c->chunks.empty() &&
           !c->snapshot_unacked && state_.queued() == 0;
}

// --- the public side of the lag ------------------------------------------------

void SyncLink::local_change(uint64_t sequence) {
    if (sequence == 0) return;
    uint64_t now = monotonic_ms();
    auto& marks = impl_->marks_;
    // One mark per millisecond: the clock cannot tell changes within it apart.
    if (!marks.empty() && marks.back().at_ms == now) {
        marks.back().sequence = std::max(marks.back().sequence, sequence);
    } else {
        marks.push_back({sequence, now});
        if (marks.size() > kMaxLagMarks) marks.pop_front();
    }
    impl_->schedule_flush();
}

const LatencyHistogram& SyncLink::lag() const { return impl_->lag_; }

uint64_t SyncLink::lag_percentile_ms(double p) const {
    std::vector<uint32_t> samples = impl_->lag_window_;
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    // Nearest rank: the smallest sample with at least p% of them at or below it.
    double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(samples.size()));
    size_t index = rank < 1.0 ? 0 : static_cast<size_t>(rank) - 1;
    return samples[std::min(index, samples.size() - 1)];
}

}  // namespace lbd::ha
