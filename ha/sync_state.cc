// The peer-sync state; the rules (versions, queue, resume) are in sync_state.h.
#include "ha/sync_state.h"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>

#include "core/base/hash.h"
#include "ha/sync_chunks.h"

namespace lbd::ha {

using lbd::v1::ServerHealth;
using lbd::v1::StickRecord;

namespace {

bool valid_name(std::string_view name) { return !name.empty() && name.size() <= kMaxNameBytes; }

// Sequences are seeded from Unix microseconds (about 2^51 today); one near
// the top of the range could only come from a broken peer, and would leave
// our Lamport clock no room to count.
constexpr uint64_t kMaxSequence = uint64_t{1} << 62;

// The most stick records a snapshot's announced size reserves room for (16M:
// 128 MiB of buckets); a bigger table grows past it as records come.
constexpr uint64_t kMaxStickReserve = uint64_t{1} << 24;

bool valid_health(const ServerHealth& health) {
    return valid_name(health.pool()) && valid_name(health.server()) && ServerHealth::State_IsValid(health.state()) &&
           health.state() != ServerHealth::STATE_UNSPECIFIED;
}

bool valid_stick(const StickRecord& stick) {
    return valid_name(stick.pool()) && (stick.kind() == StickRecord::SOURCE_IP || stick.kind() == StickRecord::COOKIE) &&
           !stick.key().empty() && stick.key().size() <= kMaxStickKeyBytes &&
           (stick.erase() ? stick.server().empty() : valid_name(stick.server()));
}

uint64_t expiry(const StickRecord& stick, uint64_t now_ms) {
    uint32_t ttl = stick.ttl_remaining_ms();
    if (stick.erase() && ttl == 0) ttl = kDefaultTombstoneMs;
    return now_ms + ttl;
}

bool newer(uint64_t a_sequence, std::string_view a_node, uint64_t b_sequence, std::string_view b_node) {
    if (a_sequence != b_sequence) return a_sequence > b_sequence;
    return a_node > b_node;
}

}  // namespace

bool valid_version(const lbd::v1::Version& version) {
    return version.sequence() != 0 && version.sequence() < kMaxSequence && valid_name(version.node_id());
}

bool version_newer(const lbd::v1::Version& a, const lbd::v1::Version& b) {
    return newer(a.sequence(), a.node_id(), b.sequence(), b.node_id());
}

std::optional<lbd::v1::Refusal::Reason> hello_check(const lbd::v1::Hello& local, const lbd::v1::Hello& peer) {
    using lbd::v1::Refusal;
    if (peer.cluster_id() != local.cluster_id()) return Refusal::WRONG_CLUSTER;
    if (peer.protocol_version() != local.protocol_version()) return Refusal::BAD_VERSION;
    // Equal node ids would make equal versions ambiguous (see the conflict rule).
    if (peer.node_id() == local.node_id() || !valid_name(peer.node_id())) return Refusal::DUPLICATE_NODE_ID;
    if (peer.server_set_digest() != local.server_set_digest()) return Refusal::SERVER_SET_MISMATCH;
    return std::nullopt;
}

std::string server_set_digest(std::vector<std::pair<std::string, std::string>> names) {
    std::sort(names.begin(), names.end());
    // NUL-terminated names: no two different sets give the same bytes.
    std::string input;
    for (const auto& [pool, server] : names) {
        input += pool;
        input.push_back('\0');
        input += server;
        input.push_back('\0');
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t digest_len = 0;
    if (EVP_Q_digest(nullptr, "SHA256", nullptr, input.data(), input.size(), digest, &digest_len) != 1) return {};
    return std::string(reinterpret_cast<const char*>(digest), digest_len);
}

bool link_dead(uint64_t now_ms, uint64_t last_heard_ms, uint32_t heartbeat_ms) {
    if (now_ms <= last_heard_ms) return false;
    return now_ms - last_heard_ms > 3 * static_cast<uint64_t>(heartbeat_ms);
}


std::vector<lbd::v1::Snapshot> make_snapshot(SnapshotRecords records, size_t chunk_size) {
    ChunkBuilder builder(chunk_size, records.covers_sequence, kMaxBatchBytes);
    for (auto& health : records.health) *builder.room_for(health.ByteSizeLong()).add_health() = std::move(health);
    for (auto& stick : records.sticks) *builder.room_for(stick.ByteSizeLong()).add_sticks() = std::move(stick);
    for (auto& purge : records.purges) *builder.room_for(purge.ByteSizeLong()).add_purges() = std::move(purge);
    return builder.finish();
}

size_t SyncState::KeyHash::operator()(const HealthKey& k) const { return hash64(k.server, hash64(k.pool)); }

size_t SyncState::KeyHash::operator()(const StickKey& k) const {
    return hash64(k.key, hash64(k.pool, static_cast<uint64_t>(k.kind)));
}

SyncState::SyncState(Options options)
    : options_(std::move(options)),
      clock_(options_.clock_floor),
      floor_(options_.clock_floor),
      sent_up_to_(options_.clock_floor) {}

uint64_t SyncState::next_sequence() { return ++clock_; }

// Lamport: never issue a sequence at or below one already seen.
void SyncState::see(const lbd::v1::Version& version) { clock_ = std::max(clock_, version.sequence()); }

// --- the queue ---------------------------------------------------------------

void SyncState::enqueue(uint64_t sequence, QueueKey key, uint64_t& queued_at) {
    // Coalescing: the older queued change of this record is superseded,
    // whether it was sent already or not (the newer one carries the record).
    dequeue(queued_at);
    if (needs_snapshot_) return;  // the snapshot will carry it
    if (queue_.size() >= options_.queue_cap) {
        drop_queue(true);
        return;
    }
    queue_.emplace(sequence, std::move(key));
    queued_at = sequence;
}

void SyncState::dequeue(uint64_t& queued_at) {
    if (queued_at != 0) queue_.erase(queued_at);
    queued_at = 0;
}

// The record's entry no longer has a queued change.
void SyncState::unmark(const QueueKey& key) {
    if (const auto* health = std::get_if<HealthKey>(&key)) {
        if (auto it = health_.find(*health); it != health_.end()) it->second.queued_at = 0;
    } else if (const auto* stick = std::get_if<StickKey>(&key)) {
        if (auto it = sticks_.find(*stick); it != sticks_.end()) it->second.queued_at = 0;
    } else if (auto it = purges_.find(std::get<PurgeKey>(key)); it != purges_.end()) {
        it->second.queued_at = 0;
    }
}

void SyncState::drop_queue(bool need_snapshot) {
    for (const auto& [sequence, key] : queue_) unmark(key);
    queue_.clear();
    if (need_snapshot) needs_snapshot_ = true;
}

// The peer has everything of ours up to `sequence`.
void SyncState::free_up_to(uint64_t sequence) {
    auto end = queue_.upper_bound(sequence);
    for (auto it = queue_.begin(); it != end; ++it) unmark(it->second);
    queue_.erase(queue_.begin(), end);
    floor_ = std::max(floor_, sequence);
}

// --- local writes ------------------------------------------------------------

uint64_t SyncState::record_local(ServerHealth health) {
    if (!valid_health(health)) return 0;
    uint64_t sequence = next_sequence();
    health.mutable_version()->set_sequence(sequence);
    health.mutable_version()->set_node_id(options_.node_id);
    HealthKey key{health.pool(), health.server()};
    HealthEntry& entry = health_[key];
    entry.record = std::move(health);
    enqueue(sequence, std::move(key), entry.queued_at);
    return sequence;
}

uint64_t SyncState::record_local(StickRecord stick, uint64_t now_ms) {
    if (!valid_stick(stick)) return 0;
    uint64_t sequence = next_sequence();
    StickKey key{stick.pool(), stick.kind(), stick.key()};
    StickEntry& entry = sticks_[key];
    entry.server = stick.server();
    entry.expires_at_ms = expiry(stick, now_ms);
    entry.sequence = sequence;
    entry.node_id = options_.node_id;
    entry.erased = stick.erase();
    enqueue(sequence, std::move(key), entry.queued_at);
    return sequence;
}

// --- connection --------------------------------------------------------------

lbd::v1::Hello SyncState::make_hello(std::string_view cluster_id, std::string_view digest) const {
    lbd::v1::Hello hello;
    hello.set_cluster_id(std::string(cluster_id));
    hello.set_node_id(options_.node_id);
    hello.set_boot_epoch(options_.boot_epoch);
    hello.set_protocol_version(kSyncProtocolVersion);
    hello.set_server_set_digest(std::string(digest));
    hello.add_capabilities(std::string(kCapabilityCachePurge));
    hello.add_capabilities(std::string(kCapabilityCachePurgeTag));
    *hello.mutable_applied() = make_ack().applied();
    return hello;
}

SyncState::Start SyncState::on_peer_hello(const lbd::v1::Hello& peer) {
    have_peer_ = true;
    // A snapshot still being built went to the previous connection, whose
    // peer never got its last chunk: the new one gets a fresh one.
    if (building_) {
        building_.reset();
        needs_snapshot_ = true;
    }
    peer_node_ = peer.node_id();
    peer_epoch_ = peer.boot_epoch();
    next_chunk_ = 0;
    peer_purges_ = std::find(peer.capabilities().begin(), peer.capabilities().end(), kCapabilityCachePurge) !=
                   peer.capabilities().end();
    peer_tag_purges_ = std::find(peer.capabilities().begin(), peer.capabilities().end(), kCapabilityCachePurgeTag) !=
                       peer.capabilities().end();
    Progress& progress = applied_[peer_node_];
    if (progress.boot_epoch != peer_epoch_) progress = Progress{peer_epoch_, 0, false};

    // Our direction: what has the peer applied of ours, in this boot epoch?
    const lbd::v1::OriginProgress* ours = nullptr;
    for (const auto& entry : peer.applied()) {
        if (entry.node_id() == options_.node_id && entry.boot_epoch() == options_.boot_epoch) ours = &entry;
    }
    // Resume only if every change after its mark is still queued (mark >=
    // floor_) and the mark is one we actually sent.
    if (!needs_snapshot_ && ours && ours->sequence() >= floor_ && ours->sequence() <= sent_up_to_) {
        free_up_to(ours->sequence());
        sent_up_to_ = ours->sequence();
        acked_up_to_ = std::max(acked_up_to_, ours->sequence());
        return Start::kResume;
    }
    needs_snapshot_ = true;
    return Start::kSnapshot;
}

// --- towards the peer --------------------------------------------------------

std::vector<lbd::v1::Snapshot> SyncState::take_snapshot(uint64_t now_ms, size_t chunk_size) {
    begin_snapshot(chunk_size);
    std::vector<lbd::v1::Snapshot> out;
    while (snapshot_building()) {
        for (auto& chunk : snapshot_step(now_ms, sticks_.bucket_count() + 1)) out.push_back(std::move(chunk));
    }
    return out;
}

std::optional<lbd::v1::Changes> SyncState::take_outgoing(uint64_t now_ms, size_t max) {
    if (needs_snapshot_ || building_) return std::nullopt;
    lbd::v1::Changes out;
    size_t bytes = 0;
    for (auto it = queue_.upper_bound(sent_up_to_);
         it != queue_.end() && static_cast<size_t>(out.changes_size()) < max && bytes < kMaxBatchBytes;) {
        lbd::v1::Change change;
        // A purge for a peer that could not parse it: skipped (sync_state.h).
        const auto* purge_key = std::get_if<PurgeKey>(&it->second);
        bool skip = purge_key != nullptr && !peer_takes(*purge_key);
        if (skip || !to_change(it->first, it->second, now_ms, &change)) {
            // Else can't happen: merges and expiry dequeue what they replace or drop.
            unmark(it->second);
            it = queue_.erase(it);
            continue;
        }
        bytes += change.ByteSizeLong();
        *out.add_changes() = std::move(change);
        sent_up_to_ = it->first;
        ++it;
    }
    if (out.changes_size() == 0) return std::nullopt;
    return out;
}

void SyncState::on_ack(const lbd::v1::Ack& ack) {
    for (const auto& entry : ack.applied()) {
        if (entry.node_id() != options_.node_id || entry.boot_epoch() != options_.boot_epoch) continue;
        // The peer cannot have applied what we never sent.
        free_up_to(std::min(entry.sequence(), sent_up_to_));
        acked_up_to_ = std::max(acked_up_to_, std::min(entry.sequence(), sent_up_to_));
    }
}

// --- from the peer -----------------------------------------------------------

SyncState::Applied SyncState::apply_remote(const lbd::v1::Change& change, uint64_t now_ms) {
    if (!have_peer_) return Applied::kInvalid;  // changes only follow a Hello
    // The stream position is the write's version (sync.proto, Change).
    const lbd::v1::Version* version = nullptr;
    if (change.has_health()) version = &change.health().version();
    if (change.has_stick()) version = &change.stick().version();
    if (change.has_purge()) version = &change.purge().version();
    if (version == nullptr || version->sequence() != change.sequence() || version->node_id() != change.origin()) {
        return Applied::kInvalid;
    }
    Applied result = change.has_health()  ? merge_health(change.health())
                     : change.has_stick() ? merge_stick(change.stick(), now_ms)
                                          : merge_purge(change.purge(), now_ms);
    if (result != Applied::kInvalid && have_peer_ && change.origin() == peer_node_) {
        Progress& progress = applied_[peer_node_];
        progress.sequence = std::max(progress.sequence, change.sequence());
    }
    return result;
}

SyncState::Applied SyncState::merge_health(const ServerHealth& health) {
    if (!valid_health(health) || !valid_version(health.version())) return Applied::kInvalid;
    see(health.version());
    auto [it, inserted] = health_.try_emplace(HealthKey{health.pool(), health.server()});
    HealthEntry& entry = it->second;
    if (!inserted && !version_newer(health.version(), entry.record.version())) return Applied::kUnchanged;
    // A queued local write that lost is never sent: the peer has the winner.
    dequeue(entry.queued_at);
    entry.record = health;
    return Applied::kChanged;
}

SyncState::Applied SyncState::merge_stick(const StickRecord& stick, uint64_t now_ms) {
    if (!valid_stick(stick) || !valid_version(stick.version())) return Applied::kInvalid;
    see(stick.version());
    auto [it, inserted] = sticks_.try_emplace(StickKey{stick.pool(), stick.kind(), stick.key()});
    StickEntry& entry = it->second;
    // An expired record still has its version: comparing with it keeps an
    // older write from coming back on one node only.
    if (!inserted && !newer(stick.version().sequence(), stick.version().node_id(), entry.sequence, entry.node_id)) {
        return Applied::kUnchanged;
    }
    bool was_live = !inserted && !entry.erased && entry.expires_at_ms > now_ms;
    dequeue(entry.queued_at);
    entry.server = stick.server();
    entry.expires_at_ms = expiry(stick, now_ms);
    entry.sequence = stick.version().sequence();
    entry.node_id = stick.version().node_id();
    entry.erased = stick.erase();
    // Erasing what was not there changes nothing the wiring can see.
    return stick.erase() && !was_live ? Applied::kUnchanged : Applied::kChanged;
}

bool SyncState::apply_snapshot(const lbd::v1::Snapshot& chunk, uint64_t now_ms, size_t* changed,
                               SnapshotWinners* winners) {
    size_t cursor = 0;
    return apply_snapshot_part(chunk, now_ms, &cursor, SIZE_MAX, changed, winners);
}

bool SyncState::apply_snapshot_part(const lbd::v1::Snapshot& chunk, uint64_t now_ms, size_t* cursor,
                                    size_t max_records, size_t* changed, SnapshotWinners* winners) {
    if (winners != nullptr) *winners = {};
    if (changed != nullptr) *changed = 0;
    if (!have_peer_ || chunk.chunk_index() != next_chunk_) return false;
    // Sized once for the whole snapshot (sync.proto says why): no rehash of
    // a big table between two chunks, with the loop and the link stalled.
    // Bounded: the count is the peer's word, not memory it may claim here.
    if (*cursor == 0 && chunk.chunk_index() == 0 && chunk.stick_records() > sticks_.size())
        sticks_.reserve(static_cast<size_t>(std::min<uint64_t>(chunk.stick_records(), kMaxStickReserve)));
    // One index over the chunk's records: its health, then sticks, then purges.
    const size_t health = static_cast<size_t>(chunk.health_size()), sticks = static_cast<size_t>(chunk.sticks_size());
    const size_t total = health + sticks + static_cast<size_t>(chunk.purges_size());
    const size_t end = *cursor + std::min(max_records, total - std::min(*cursor, total));
    size_t count = 0;
    bool ok = true;
    for (size_t at = *cursor; at < end; ++at) {
        Applied result;
        std::vector<int>* won = nullptr;
        int i = 0;
        if (at < health) {
            i = static_cast<int>(at);
            result = merge_health(chunk.health(i));
            if (winners != nullptr) won = &winners->health;
        } else if (at < health + sticks) {
            i = static_cast<int>(at - health);
            result = merge_stick(chunk.sticks(i), now_ms);
            if (winners != nullptr) won = &winners->sticks;
        } else {
            i = static_cast<int>(at - health - sticks);
            result = merge_purge(chunk.purges(i), now_ms);
            if (winners != nullptr) won = &winners->purges;
        }
        ok = ok && result != Applied::kInvalid;
        count += result == Applied::kChanged;
        if (won != nullptr && result == Applied::kChanged) won->push_back(i);
    }
    *cursor = end;
    if (changed != nullptr) *changed = count;
    if (!ok) return false;
    if (end < total) return true;  // more parts of this chunk to come
    ++next_chunk_;
    if (chunk.last()) {
        Progress& progress = applied_[peer_node_];
        progress.sequence = std::max(progress.sequence, chunk.covers_sequence());
        progress.complete = true;
        next_chunk_ = 0;
    }
    return true;
}

lbd::v1::Ack SyncState::make_ack() const {
    lbd::v1::Ack ack;
    for (const auto& [node, progress] : applied_) {
        // Before a full snapshot of that boot epoch there is nothing to resume from.
        if (!progress.complete) continue;
        auto* entry = ack.add_applied();
        entry->set_node_id(node);
        entry->set_boot_epoch(progress.boot_epoch);
        entry->set_sequence(progress.sequence);
    }
    return ack;
}

bool SyncState::synced_with_peer() const {
    if (!have_peer_) return false;
    auto it = applied_.find(peer_node_);
    return it != applied_.end() && it->second.boot_epoch == peer_epoch_ && it->second.complete;
}

void SyncState::fill_record(const StickKey& key, const StickEntry& entry, uint64_t now_ms, StickRecord* out) {
    out->set_pool(key.pool);
    out->set_kind(static_cast<StickRecord::Kind>(key.kind));
    out->set_key(key.key);
    if (!entry.erased) out->set_server(entry.server);
    uint64_t left = entry.expires_at_ms > now_ms ? entry.expires_at_ms - now_ms : 0;
    out->set_ttl_remaining_ms(static_cast<uint32_t>(std::min<uint64_t>(left, std::numeric_limits<uint32_t>::max())));
    out->set_erase(entry.erased);
    out->mutable_version()->set_sequence(entry.sequence);
    out->mutable_version()->set_node_id(entry.node_id);
}

// The queued change at `sequence`, if the record still holds that local write.
bool SyncState::to_change(uint64_t sequence, const QueueKey& key, uint64_t now_ms, lbd::v1::Change* change) const {
    change->set_origin(options_.node_id);
    change->set_sequence(sequence);
    if (const auto* health_key = std::get_if<HealthKey>(&key)) {
        auto it = health_.find(*health_key);
        if (it == health_.end() || it->second.record.version().sequence() != sequence) return false;
        *change->mutable_health() = it->second.record;
        return true;
    }
    if (const auto* purge_key = std::get_if<PurgeKey>(&key)) return purge_change(*purge_key, sequence, change);
    const auto& stick_key = std::get<StickKey>(key);
    auto it = sticks_.find(stick_key);
    if (it == sticks_.end() || it->second.sequence != sequence || it->second.node_id != options_.node_id) return false;
    fill_record(stick_key, it->second, now_ms, change->mutable_stick());
    return true;
}

}  // namespace lbd::ha
