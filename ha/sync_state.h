// The peer-sync state: versioned records, the queue of local changes, acks,
// resume-or-snapshot on reconnect, and the conflict rule. Pure logic: no
// sockets, no clock (times are arguments), no lbd pools. It deals only in
// the records of sync.proto; the wiring layer (a later step) feeds it the
// changes of Server states and StickTable entries, applies what it returns
// to them, and moves its messages through ha/sync_codec.h on a TCP link.
//
// One connection's life, seen from one node (the peer runs the same):
//
//   connect --> send make_hello() --> peer's Hello --> hello_check() --> refused:
//                                          | accepted            send Refusal, close
//                                    on_peer_hello()
//                 +------------------------+------------------------+
//      kResume: the peer has applied our                kSnapshot: anything else (new
//      changes up to N and we still hold                peer or boot, queue overflowed,
//      every later one: resend from N+1                 N unknown): take_snapshot()
//                 +------------------------+------------------------+
//                        steady: take_outgoing() --> Changes to the peer
//                                apply_snapshot() / apply_remote() <-- peer
//                                make_ack() --> peer;  on_ack() <-- peer
//                                Heartbeat when idle; link_dead() --> close, reconnect
//
// Conflicts. Every record carries the Version of its last write:
// (sequence, node id). The higher version wins: higher sequence, then, for
// equal sequences, the bytewise higher node id. Both nodes compare the same
// two versions, so they keep the same record whatever the order in which the
// writes reach them. The sequence is a Lamport clock: a local write takes
// one more than the highest sequence this node has made or seen, so a write
// made after seeing another always wins over it; only truly concurrent
// writes are ordered by the rule. It starts at Options::clock_floor, which
// the wiring sets from the wall clock (Unix microseconds) so that a node that
// restarted (and lost its counter) still outranks what its previous life
// wrote. The wall clock never decides alone; it only seeds the counter.
//
// Erasures are kept as tombstones for their ttl_remaining_ms, so that an
// older write that was concurrent with the erase cannot bring an entry back.
//
// Cache purges (CachePurge, `lbctl cache purge`) are events, not state: a
// local purge is queued like any change (so a purge made while the link is
// down is resent on resume), and kept for kPurgeKeepMs, so that a snapshot
// (after the queue overflowed, or to a peer that restarted) carries it too;
// a purge the peer has not acknowledged yet is kept past that, up to
// kMaxPurges in all. Only a peer whose Hello lists kCapabilityCachePurge
// gets them (an older one could not parse them), and only one that lists
// kCapabilityCachePurgeTag gets a purge by tag (an older one would find its
// target empty: an invalid record, or an invalid snapshot); for any other
// peer they are skipped. A purge from the peer is applied (kChanged) once per
// version and never queued, and snapshots carry only this node's own
// purges: nothing is echoed back. Applying one twice costs a cache miss.
//
// Memory stays bounded under churn: a local change replaces any queued change
// of the same record (coalescing), and past Options::queue_cap queued records
// the queue is dropped and the peer gets a full snapshot instead. Records
// themselves are bounded by the servers and by the stick TTLs (expire()).
//
// Thread model: not thread-safe; the sync link's thread owns it. Local
// changes from workers reach it through that thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "ha/sync_chunks.h"
#include "lbd/v1/sync.pb.h"

namespace lbd::ha {

inline constexpr uint32_t kSyncProtocolVersion = 1;
// A Snapshot chunk or a Changes batch stops growing past this many bytes of
// records, well under sync_codec.h's kMaxPayloadBytes.
inline constexpr size_t kMaxBatchBytes = 1024 * 1024;
// Longer stick keys (cookies) or names are refused: they could not be framed.
inline constexpr size_t kMaxStickKeyBytes = 4096;
inline constexpr size_t kMaxNameBytes = 256;
// How long a tombstone lives when the erase gives no ttl_remaining_ms.
inline constexpr uint32_t kDefaultTombstoneMs = 60 * 1000;
// Hello.capabilities entry of a node that takes CachePurge records.
inline constexpr std::string_view kCapabilityCachePurge = "cache-purge";
// Hello.capabilities entry of a node that takes CachePurge records by tag.
inline constexpr std::string_view kCapabilityCachePurgeTag = "cache-purge-tag";
// How long a purge is kept for snapshots (see the top): long enough to
// outlast a queue overflow during a link outage of minutes, short enough
// that a snapshot does not replay old purges (each costs the peer a miss).
inline constexpr uint64_t kPurgeKeepMs = 10 * 60 * 1000;
// Purges kept at most (own and the peer's); past it the oldest goes, counted
// in purges_dropped(). Operators purge by hand or by deploy script: far fewer.
inline constexpr size_t kMaxPurges = 4096;

// A version a record may carry: a sequence in range, a node id.
bool valid_version(const lbd::v1::Version& version);
// True if version `a` wins over `b` (see the top of the file).
bool version_newer(const lbd::v1::Version& a, const lbd::v1::Version& b);

// Whether this node may sync with the peer that sent `peer`; the reason to
// refuse it otherwise. `local` is the Hello this node sent.
std::optional<lbd::v1::Refusal::Reason> hello_check(const lbd::v1::Hello& local, const lbd::v1::Hello& peer);

// Hello.server_set_digest: SHA-256 over the sorted (pool, server) names.
// Empty if OpenSSL failed.
std::string server_set_digest(std::vector<std::pair<std::string, std::string>> pool_and_server_names);

// The peer is gone: nothing heard for 3 heartbeat intervals. Times in ms from
// one monotonic clock; `last_heard_ms` is when the last frame arrived.
bool link_dead(uint64_t now_ms, uint64_t last_heard_ms, uint32_t heartbeat_ms);

// A snapshot's content before it is cut into chunks.
struct SnapshotRecords {
    std::vector<lbd::v1::ServerHealth> health;
    std::vector<lbd::v1::StickRecord> sticks;
    std::vector<lbd::v1::CachePurge> purges;
    uint64_t covers_sequence = 0;
};

// Cuts `records` into chunks of at most `chunk_size` records (and about
// kMaxBatchBytes), health first, purges last. Always at least one chunk (the last).
std::vector<lbd::v1::Snapshot> make_snapshot(SnapshotRecords records, size_t chunk_size);

class SyncState {
public:
    struct Options {
        std::string node_id;
        // Random per start (Hello.boot_epoch).
        uint64_t boot_epoch = 0;
        // The first local write gets a sequence above this (see the top).
        uint64_t clock_floor = 0;
        // Queued local records before falling back to a full snapshot.
        size_t queue_cap = 65536;
    };

    // What on_peer_hello() decided for our direction.
    enum class Start : uint8_t { kResume, kSnapshot };

    enum class Applied : uint8_t {
        kChanged,    // the record won; the wiring applies it to its table/server
        kUnchanged,  // an older or equal version, or an erase of nothing: ignored
        kInvalid,    // not a valid record (empty names, unknown state, oversize), or before the Hello
    };

    explicit SyncState(Options options);

    // --- local writes -------------------------------------------------------
    // Stamps the record with the next local version, stores it and queues it
    // for the peer. Returns its sequence, or 0 if the record is invalid.
    // Health: `version` is overwritten. Stick: ttl_remaining_ms is counted
    // from `now_ms` (for an erase, it is the tombstone's life; 0 = default).
    uint64_t record_local(lbd::v1::ServerHealth health);
    uint64_t record_local(lbd::v1::StickRecord stick, uint64_t now_ms);
    // A purge made here; `version` is overwritten. Kept from `now_ms` on.
    uint64_t record_local(lbd::v1::CachePurge purge, uint64_t now_ms);

    // --- connection ---------------------------------------------------------
    // Our Hello, with resume information from what we have applied.
    lbd::v1::Hello make_hello(std::string_view cluster_id, std::string_view server_set_digest) const;
    // Call once the peer's Hello passed hello_check(): resume or snapshot.
    Start on_peer_hello(const lbd::v1::Hello& peer);
    // The connected peer listed kCapabilityCachePurge.
    bool peer_takes_purges() const { return peer_purges_; }
    // The connected peer listed kCapabilityCachePurgeTag.
    bool peer_takes_tag_purges() const { return peer_tag_purges_; }

    // --- towards the peer ---------------------------------------------------
    // A full snapshot must go out before any change.
    bool needs_snapshot() const { return needs_snapshot_; }
    // The whole state in chunks; everything queued so far is covered by it.
    // Send every chunk before the next take_outgoing() batch.
    std::vector<lbd::v1::Snapshot> take_snapshot(uint64_t now_ms, size_t chunk_size);
    // The same snapshot built a slice at a time (sync_state_snapshot.cc), so
    // that a million stick records do not stall the link's thread (and its
    // heartbeats) for a second: begin_snapshot() fixes what it covers, as
    // take_snapshot() does, and puts the health records and purges in;
    // each snapshot_step() walks at most `max_buckets` buckets of the stick
    // map and returns the chunks that filled meanwhile, the one flagged
    // last() when the walk is done. Records written or merged between steps
    // go out in their newest version (a write after begin_snapshot() is also
    // queued, so the peer gets it even where the walk had passed it). No
    // take_outgoing() batch while building; a new Hello abandons the build.
    void begin_snapshot(size_t chunk_size);
    bool snapshot_building() const { return building_.has_value(); }
    std::vector<lbd::v1::Snapshot> snapshot_step(uint64_t now_ms, size_t max_buckets);
    // The next queued changes not sent yet, oldest first, at most `max` (and
    // about kMaxBatchBytes). nullopt if none, or while a snapshot is needed.
    std::optional<lbd::v1::Changes> take_outgoing(uint64_t now_ms, size_t max);
    // The peer's Ack: frees our queued changes it covers.
    void on_ack(const lbd::v1::Ack& ack);

    // --- from the peer ------------------------------------------------------
    Applied apply_remote(const lbd::v1::Change& change, uint64_t now_ms);
    // Which records of a chunk won (kChanged), as indexes into its health,
    // sticks and purges: the wiring applies exactly those.
    struct SnapshotWinners {
        std::vector<int> health;
        std::vector<int> sticks;
        std::vector<int> purges;
    };
    // Merges one chunk. False if it is out of order or comes before the
    // peer's Hello (a protocol error: close the link); the records already
    // merged stay (merging never undoes a newer write), and are reported in
    // `changed` and `winners` all the same.
    bool apply_snapshot(const lbd::v1::Snapshot& chunk, uint64_t now_ms, size_t* changed = nullptr,
                        SnapshotWinners* winners = nullptr);
    // The same a part at a time, so that a receiver can go back to its loop
    // (heartbeats, reads, the admin plane) within a chunk: merges at most
    // `max_records` records of `chunk` from *cursor on (its health, then
    // sticks, then purges, as one index) and advances *cursor. The chunk is
    // done (the next chunk index expected; complete after the last one) once
    // *cursor reaches its record count; until then, pass the same chunk again
    // and nothing else. `winners` and `changed` cover this part only.
    bool apply_snapshot_part(const lbd::v1::Snapshot& chunk, uint64_t now_ms, size_t* cursor, size_t max_records,
                             size_t* changed = nullptr, SnapshotWinners* winners = nullptr);
    // What we have applied, per origin.
    lbd::v1::Ack make_ack() const;
    // We hold the peer's full state: the last chunk of a snapshot from its
    // current boot epoch arrived (resuming keeps this).
    bool synced_with_peer() const;

    // --- housekeeping and inspection ----------------------------------------
    // Drops stick records and tombstones whose TTL ran out; returns how many
    // (purges past kPurgeKeepMs go too, uncounted).
    // Walks every stick record: call it every few seconds, not per change.
    size_t expire(uint64_t now_ms);
    // The same, a slice at a time: walks at most `max_buckets` buckets of the
    // stick map from where the last call stopped, so a sweep of a million
    // records is spread over many loop turns instead of stalling the link's
    // thread (and its heartbeats) for a few hundred milliseconds at once.
    size_t expire_step(uint64_t now_ms, size_t max_buckets);
    size_t stick_buckets() const { return sticks_.bucket_count(); }
    // All records (live sticks and tombstones) as the peer would get them.
    SnapshotRecords records(uint64_t now_ms) const;
    std::optional<lbd::v1::ServerHealth> find_health(std::string_view pool, std::string_view server) const;
    // A live entry (nullopt if erased or expired).
    std::optional<lbd::v1::StickRecord> find_stick(std::string_view pool, lbd::v1::StickRecord::Kind kind,
                                                   std::string_view key, uint64_t now_ms) const;
    size_t health_count() const { return health_.size(); }
    // Stick records held, tombstones and expired ones not yet dropped included.
    size_t stick_count() const { return sticks_.size(); }
    size_t queued() const { return queue_.size(); }
    // Purges kept (own and the peer's), and those dropped past kMaxPurges.
    size_t purge_count() const { return purges_.size(); }
    uint64_t purges_dropped() const { return purges_dropped_; }
    uint64_t sequence() const { return clock_; }
    const std::string& node_id() const { return options_.node_id; }

private:
    struct HealthKey {
        std::string pool, server;
        bool operator==(const HealthKey&) const = default;
    };
    struct StickKey {
        std::string pool;
        int kind = 0;
        std::string key;
        bool operator==(const StickKey&) const = default;
    };
    // Two origins' purges of the same target are kept apart: each is applied once.
    struct PurgeKey {
        std::string origin, zone, target;
        bool prefix = false;
        std::string tag;  // set: a purge by tag (target empty)
        auto operator<=>(const PurgeKey&) const = default;
    };
    struct PurgeEntry {
        uint64_t sequence = 0;
        uint64_t expires_at_ms = 0;
        uint64_t queued_at = 0;
    };
    struct KeyHash {
        size_t operator()(const HealthKey& k) const;
        size_t operator()(const StickKey& k) const;
    };
    struct HealthEntry {
        lbd::v1::ServerHealth record;
        uint64_t queued_at = 0;  // queue_ key, 0 = not queued
    };
    // Leaner than a StickRecord message: a million of these is the target.
    struct StickEntry {
        std::string server;
        uint64_t expires_at_ms = 0;
        uint64_t sequence = 0;
        std::string node_id;
        bool erased = false;
        uint64_t queued_at = 0;
    };
    using QueueKey = std::variant<HealthKey, StickKey, PurgeKey>;
    using HealthMap = std::unordered_map<HealthKey, HealthEntry, KeyHash>;
    using StickMap = std::unordered_map<StickKey, StickEntry, KeyHash>;
    // Progress in applying one origin's changes.
    struct Progress {
        uint64_t boot_epoch = 0;
        uint64_t sequence = 0;
        bool complete = false;  // a full snapshot of this boot epoch arrived
    };

    uint64_t next_sequence();
    void see(const lbd::v1::Version& version);
    void enqueue(uint64_t sequence, QueueKey key, uint64_t& queued_at);
    void dequeue(uint64_t& queued_at);
    void unmark(const QueueKey& key);
    void drop_queue(bool need_snapshot);
    void free_up_to(uint64_t sequence);
    Applied merge_health(const lbd::v1::ServerHealth& health);
    Applied merge_stick(const lbd::v1::StickRecord& stick, uint64_t now_ms);
    // sync_state_keep.cc
    Applied merge_purge(const lbd::v1::CachePurge& purge, uint64_t now_ms);
    PurgeEntry& keep_purge(PurgeKey key);
    void expire_purges(uint64_t now_ms);
    void fill_purge(const PurgeKey& key, const PurgeEntry& entry, lbd::v1::CachePurge* out) const;
    bool purge_change(const PurgeKey& key, uint64_t sequence, lbd::v1::Change* change) const;
    static void fill_record(const StickKey& key, const StickEntry& entry, uint64_t now_ms,
                            lbd::v1::StickRecord* out);
    bool to_change(uint64_t sequence, const QueueKey& key, uint64_t now_ms, lbd::v1::Change* change) const;

    Options options_;
    uint64_t clock_;
    HealthMap health_;
    StickMap sticks_;

    // Our changes not yet acknowledged, by sequence. Every local change
    // above floor_ is here, or was replaced by a newer one of the same record
    // that is; the peer has (or a snapshot gave it) everything up to floor_.
    std::map<uint64_t, QueueKey> queue_;
    uint64_t floor_;
    uint64_t sent_up_to_;
    bool needs_snapshot_ = true;

    // The connected peer, and how far we have applied each origin.
    std::string peer_node_;
    uint64_t peer_epoch_ = 0;
    bool have_peer_ = false;
    uint32_t next_chunk_ = 0;
    std::unordered_map<std::string, Progress> applied_;
    size_t expire_cursor_ = 0;  // next bucket for expire_step()
    // The snapshot being built a slice at a time: its chunks, the next stick
    // bucket, and the bucket count the walk started with (a rehash between
    // steps moves records between buckets: the walk then starts over, since
    // sending a record twice is harmless and missing one is not).
    std::optional<ChunkBuilder> building_;
    size_t build_cursor_ = 0, build_buckets_ = 0;

    // Few (kMaxPurges), so an ordered map: expiry walks all of it.
    std::map<PurgeKey, PurgeEntry> purges_;
    uint64_t purges_dropped_ = 0;
    bool peer_purges_ = false;
    bool peer_tag_purges_ = false;
    // Whether the peer can take this purge (the capabilities above).
    bool peer_takes(const PurgeKey& key) const { return peer_purges_ && (key.tag.empty() || peer_tag_purges_); }
    // The peer has acknowledged our changes up to here (this boot epoch): an
    // own purge above it is kept past kPurgeKeepMs.
    uint64_t acked_up_to_ = 0;
};

}  // namespace lbd::ha
