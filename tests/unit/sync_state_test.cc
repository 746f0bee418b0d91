// Unit tests of the peer-sync state (ha/sync_state.h): versions, the queue of
// local changes (coalescing, cap, acks), resume or snapshot after a
// reconnect, invalid records, expiry, and the Hello checks.
#include <doctest/doctest.h>

#include "tests/unit/sync_state_kit.h"

namespace lbd::ha {
namespace {

TEST_CASE("versions: higher sequence wins; equal sequences go to the higher node id") {
    lbd::v1::Version a, b;
    a.set_sequence(5);
    a.set_node_id("lb-a");
    b.set_sequence(4);
    b.set_node_id("lb-b");
    CHECK(version_newer(a, b));
    CHECK(!version_newer(b, a));
    b.set_sequence(5);
    CHECK(version_newer(b, a));
    CHECK(!version_newer(a, b));
    CHECK(!version_newer(a, a));  // the same write: no change
}

TEST_CASE("local changes coalesce: a newer change of a record replaces the queued one, sent or not") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    a.record_local(stick("10.0.0.1", "s1"), kNow);
    a.record_local(stick("10.0.0.1", "s2"), kNow);
    a.record_local(health("s1", ServerHealth::DOWN));
    a.record_local(stick("10.0.0.2", "s1"), kNow);
    a.record_local(stick("10.0.0.1", "s1"), kNow);
    a.record_local(health("s1", ServerHealth::UP));
    CHECK(a.queued() == 3);

    auto batch = a.take_outgoing(kNow, 100);
    REQUIRE(batch);
    REQUIRE(batch->changes_size() == 3);
    // Oldest first, each record once, as last written.
    CHECK(batch->changes(0).stick().key() == "10.0.0.2");
    CHECK(batch->changes(1).stick().key() == "10.0.0.1");
    CHECK(batch->changes(1).stick().server() == "s1");
    CHECK(batch->changes(2).health().state() == ServerHealth::UP);
    for (const auto& change : batch->changes()) {
        CHECK(change.origin() == "lb-a");
        CHECK(change.sequence() > 0);
    }
    CHECK(!a.take_outgoing(kNow, 100));

    // Sent but not acknowledged, then written again: still one queued change.
    a.record_local(stick("10.0.0.2", "s2"), kNow);
    CHECK(a.queued() == 3);
    auto again = a.take_outgoing(kNow, 100);
    REQUIRE(again);
    CHECK(again->changes_size() == 1);
    CHECK(a.queued() == 3);
    for (const auto& change : batch->changes()) b.apply_remote(change, kNow);
    for (const auto& change : again->changes()) b.apply_remote(change, kNow);
    a.on_ack(b.make_ack());
    CHECK(a.queued() == 0);
    CHECK(state_of(a) == state_of(b));
}

TEST_CASE("take_outgoing respects its maximum and keeps the rest for the next batch") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    for (int i = 0; i < 10; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    auto first = a.take_outgoing(kNow, 4);
    REQUIRE(first);
    CHECK(first->changes_size() == 4);
    CHECK(first->changes(0).stick().key() == "k0");
    auto second = a.take_outgoing(kNow, 100);
    REQUIRE(second);
    CHECK(second->changes_size() == 6);
    CHECK(second->changes(0).stick().key() == "k4");
}

TEST_CASE("past the queue cap the queue is dropped and the peer needs a full snapshot") {
    SyncState a = node("lb-a", 1, /*queue_cap=*/10), b = node("lb-b", 2);
    connect_and_sync(a, b);
    for (int i = 0; i < 10; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    CHECK(a.queued() == 10);
    CHECK(!a.needs_snapshot());
    a.record_local(stick("k10", "s1"), kNow);
    CHECK(a.needs_snapshot());
    CHECK(a.queued() == 0);
    CHECK(!a.take_outgoing(kNow, 100));
    // More churn while waiting queues nothing: memory stays bounded.
    for (int i = 0; i < 1000; ++i) a.record_local(stick("k" + std::to_string(i % 50), "s2"), kNow);
    CHECK(a.queued() == 0);

    auto chunks = a.take_snapshot(kNow, 7);
    CHECK(chunks.size() == 8);  // 50 records, 7 per chunk
    CHECK(chunks.back().last());
    CHECK(!a.needs_snapshot());
    for (const auto& chunk : chunks) REQUIRE(b.apply_snapshot(chunk, kNow));
    CHECK(server_of(b, "k49") == "s2");
    // Changes queue again after the snapshot.
    a.record_local(stick("k0", "s1"), kNow);
    CHECK(a.queued() == 1);
    pump(a, b);
    CHECK(state_of(a) == state_of(b));
}

TEST_CASE("acks free what they cover, only for our node and boot epoch") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    std::vector<uint64_t> seqs;
    for (int i = 0; i < 5; ++i) seqs.push_back(a.record_local(stick("k" + std::to_string(i), "s1"), kNow));
    REQUIRE(a.take_outgoing(kNow, 100));

    lbd::v1::Ack ack;
    auto* entry = ack.add_applied();
    entry->set_node_id("lb-a");
    entry->set_boot_epoch(99);  // an older life of lb-a
    entry->set_sequence(seqs[2]);
    a.on_ack(ack);
    CHECK(a.queued() == 5);
    entry->set_boot_epoch(1);
    entry->set_node_id("lb-x");
    a.on_ack(ack);
    CHECK(a.queued() == 5);
    entry->set_node_id("lb-a");
    a.on_ack(ack);
    CHECK(a.queued() == 2);
    // An ack beyond what was sent frees only what was sent.
    a.record_local(stick("k9", "s1"), kNow);
    entry->set_sequence(seqs[4] + 1000);
    a.on_ack(ack);
    CHECK(a.queued() == 1);
}

TEST_CASE("after a short disconnect the sender resumes after the peer's last applied change") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    for (int i = 0; i < 5; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    auto batch = a.take_outgoing(kNow, 100);
    REQUIRE(batch);
    REQUIRE(batch->changes_size() == 5);
    // The link dies after b applied three of them; no ack got through.
    for (int i = 0; i < 3; ++i) b.apply_remote(batch->changes(i), kNow);
    a.record_local(stick("k5", "s2"), kNow);  // made while disconnected

    Start b_start;
    CHECK(handshake(a, b, &b_start) == Start::kResume);
    CHECK(b_start == Start::kResume);
    CHECK(!a.needs_snapshot());
    CHECK(a.queued() == 3);
    auto resent = a.take_outgoing(kNow, 100);
    REQUIRE(resent);
    REQUIRE(resent->changes_size() == 3);
    CHECK(resent->changes(0).stick().key() == "k3");
    CHECK(resent->changes(2).stick().key() == "k5");
    for (const auto& change : resent->changes()) CHECK(b.apply_remote(change, kNow) == Applied::kChanged);
    a.on_ack(b.make_ack());
    CHECK(a.queued() == 0);
    CHECK(state_of(a) == state_of(b));
    CHECK(b.synced_with_peer());
}

TEST_CASE("a full snapshot is sent when the changes after the peer's mark are gone") {
    SyncState a = node("lb-a", 1, /*queue_cap=*/4), b = node("lb-b", 2);
    connect_and_sync(a, b);

    SUBCASE("our queue overflowed while the link was down") {
        for (int i = 0; i < 5; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
        CHECK(handshake(a, b) == Start::kSnapshot);
    }
    SUBCASE("the peer restarted: its Hello knows nothing of us") {
        b = node("lb-b", 3);
        Start b_start;
        CHECK(handshake(a, b, &b_start) == Start::kSnapshot);
        CHECK(b_start == Start::kSnapshot);  // and b, new, sends one too
    }
    SUBCASE("we restarted: the peer's mark is for our previous boot epoch") {
        a = node("lb-a", 7);
        CHECK(handshake(a, b) == Start::kSnapshot);
    }
    SUBCASE("our last snapshot never finished: the peer's mark is below it") {
        a.record_local(stick("k0", "s1"), kNow);
        for (int i = 0; i < 5; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
        REQUIRE(a.needs_snapshot());
        auto chunks = a.take_snapshot(kNow, 2);
        REQUIRE(chunks.size() > 1);
        REQUIRE(b.apply_snapshot(chunks[0], kNow));  // then the link died
        CHECK(!a.needs_snapshot());
        CHECK(handshake(a, b) == Start::kSnapshot);
    }
    CHECK(a.needs_snapshot());
    pump(a, b);
    pump(b, a);
    CHECK(state_of(a) == state_of(b));
    CHECK(b.synced_with_peer());
}

TEST_CASE("snapshot chunks must come in order, after the peer's Hello") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    for (int i = 0; i < 10; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    auto chunks = a.take_snapshot(kNow, 3);
    REQUIRE(chunks.size() == 4);
    CHECK(!b.apply_snapshot(chunks[0], kNow));  // no Hello yet
    handshake(a, b);
    CHECK(!b.apply_snapshot(chunks[1], kNow));
    CHECK(b.apply_snapshot(chunks[0], kNow));
    CHECK(!b.apply_snapshot(chunks[2], kNow));
    CHECK(b.apply_snapshot(chunks[1], kNow));
    CHECK(!b.synced_with_peer());
    CHECK(b.apply_snapshot(chunks[2], kNow));
    CHECK(b.apply_snapshot(chunks[3], kNow));
    CHECK(b.synced_with_peer());
    CHECK(b.stick_count() == 10);
    // An empty state still gives one (last) chunk.
    auto empty = make_snapshot({}, 100);
    REQUIRE(empty.size() == 1);
    CHECK(empty[0].last());
}

TEST_CASE("invalid records are refused, locally and from the peer") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    CHECK(a.record_local(stick("", "s1"), kNow) == 0);
    CHECK(a.record_local(stick(std::string(kMaxStickKeyBytes + 1, 'k'), "s1"), kNow) == 0);
    CHECK(a.record_local(stick("k", ""), kNow) == 0);
    CHECK(a.record_local(health("s1", ServerHealth::STATE_UNSPECIFIED)) == 0);
    ServerHealth no_pool = health("s1", ServerHealth::UP);
    no_pool.clear_pool();
    CHECK(a.record_local(no_pool) == 0);

    a.record_local(stick("k", "s1"), kNow);
    auto batch = a.take_outgoing(kNow, 10);
    REQUIRE(batch);
    lbd::v1::Change change = batch->changes(0);
    change.set_sequence(change.sequence() + 1);  // disagrees with the record's version
    CHECK(b.apply_remote(change, kNow) == Applied::kInvalid);
    change = batch->changes(0);
    change.mutable_stick()->mutable_version()->clear_node_id();
    change.clear_origin();
    CHECK(b.apply_remote(change, kNow) == Applied::kInvalid);
    CHECK(b.apply_remote(lbd::v1::Change(), kNow) == Applied::kInvalid);
    change = batch->changes(0);
    change.set_sequence(uint64_t{1} << 63);  // would leave the Lamport clock no room
    change.mutable_stick()->mutable_version()->set_sequence(uint64_t{1} << 63);
    CHECK(b.apply_remote(change, kNow) == Applied::kInvalid);
    SyncState fresh = node("lb-c", 3);  // no Hello from a peer yet
    CHECK(fresh.apply_remote(batch->changes(0), kNow) == Applied::kInvalid);
    CHECK(b.apply_remote(batch->changes(0), kNow) == Applied::kChanged);
    CHECK(b.apply_remote(batch->changes(0), kNow) == Applied::kUnchanged);  // idempotent
}

TEST_CASE("stick records expire with their TTL; snapshots carry the time left") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    a.record_local(stick("short", "s1", 1000), kNow);
    a.record_local(stick("long", "s1", 5000), kNow);
    handshake(a, b);
    pump(a, b, kNow + 400);
    auto record = b.find_stick("web", StickRecord::SOURCE_IP, "short", kNow + 400);
    REQUIRE(record);
    CHECK(record->ttl_remaining_ms() == 600);
    CHECK(server_of(b, "short", kNow + 999) == "s1");
    CHECK(server_of(b, "short", kNow + 1000) == "<none>");
    CHECK(b.expire(kNow + 1000) == 1);
    CHECK(b.stick_count() == 1);
}

TEST_CASE("expire_step sweeps the records a slice at a time and drops the same ones as expire") {
    SyncState a = node("lb-a", 1);
    for (int i = 0; i < 1000; ++i)
        a.record_local(stick("k" + std::to_string(i), "s1", i % 2 == 0 ? 1000 : 5000), kNow);
    size_t buckets = a.stick_buckets();
    REQUIRE(buckets >= 1000);
    // Slices of 100 buckets: nothing goes before the TTL, half after, over one sweep.
    CHECK(a.expire_step(kNow + 999, buckets) == 0);
    size_t dropped = 0, steps = 0;
    while (steps * 100 < buckets) {
        dropped += a.expire_step(kNow + 1000, 100);
        ++steps;
    }
    CHECK(steps > 1);
    CHECK(dropped == 500);
    CHECK(a.stick_count() == 500);
    CHECK(a.expire(kNow + 1000) == 0);  // the full walk finds nothing left
    CHECK(a.expire_step(kNow + 5000, buckets) == 500);
    CHECK(a.stick_count() == 0);
}

// Growing a table to a million records rehashes it in one step: seconds on a
// loaded machine, during which the receiver's loop sent nothing and the
// sender dropped the link (the first 1M-entry sync to a new peer flapped).
// The first chunk says how many records come, and the receiver sizes its
// table once: no rehash while the rest arrive.
TEST_CASE("a snapshot's first chunk sizes the receiver's stick table: no rehash while the chunks come") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    constexpr size_t kRecords = 20000;
    for (size_t i = 0; i < kRecords; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    handshake(a, b);
    std::vector<lbd::v1::Snapshot> chunks = a.take_snapshot(kNow, 1000);
    REQUIRE(chunks.size() > 10);
    CHECK(chunks[0].stick_records() == kRecords);
    CHECK(chunks[1].stick_records() == 0);  // said once
    REQUIRE(b.apply_snapshot(chunks[0], kNow));
    const size_t buckets = b.stick_buckets();
    CHECK(buckets >= kRecords);
    size_t rehashes = 0;
    for (size_t i = 1; i < chunks.size(); ++i) {
        REQUIRE(b.apply_snapshot(chunks[i], kNow));
        rehashes += b.stick_buckets() != buckets;
    }
    CHECK(rehashes == 0);
    CHECK(b.stick_count() == kRecords);
    CHECK(b.synced_with_peer());
}

TEST_CASE("hello_check refuses another cluster, protocol version, server set or the same node id") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    auto local = a.make_hello("prod", kDigest);
    CHECK(local.protocol_version() == kSyncProtocolVersion);
    CHECK(local.boot_epoch() == 1);
    CHECK(!hello_check(local, b.make_hello("prod", kDigest)));
    CHECK(hello_check(local, b.make_hello("staging", kDigest)) == lbd::v1::Refusal::WRONG_CLUSTER);
    auto other_version = b.make_hello("prod", kDigest);
    other_version.set_protocol_version(2);
    CHECK(hello_check(local, other_version) == lbd::v1::Refusal::BAD_VERSION);
    auto other_servers = server_set_digest({{"web", "s1"}, {"web", "s3"}});
    CHECK(hello_check(local, b.make_hello("prod", other_servers)) == lbd::v1::Refusal::SERVER_SET_MISMATCH);
    CHECK(hello_check(local, node("lb-a", 9).make_hello("prod", kDigest)) == lbd::v1::Refusal::DUPLICATE_NODE_ID);

    // The digest ignores order and sees every name boundary.
    CHECK(server_set_digest({{"web", "s2"}, {"web", "s1"}}) == kDigest);
    CHECK(kDigest.size() == 32);
    CHECK(server_set_digest({{"we", "bs1"}}) != server_set_digest({{"web", "s1"}}));
    CHECK(server_set_digest({}) != kDigest);
}

TEST_CASE("link_dead: after three missed heartbeats") {
    CHECK(!link_dead(1000, 1000, 200));
    CHECK(!link_dead(1600, 1000, 200));
    CHECK(link_dead(1601, 1000, 200));
    CHECK(!link_dead(900, 1000, 200));  // heard "after" now: not dead
}

}  // namespace
}  // namespace lbd::ha

namespace lbd::ha {

// The sync link builds snapshots a slice per loop turn; between slices the
// table changes. Whatever happens between steps (writes, a rehash of the
// stick map, expiry), the peer ends up with the same records.
TEST_CASE("a snapshot built in slices, with writes and a rehash between the steps, gives the peer everything") {
    SyncState a = node("lb-a", 1, 100000), b = node("lb-b", 2);
    for (int i = 0; i < 1000; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    a.record_local(health("s1", ServerHealth::DOWN));
    handshake(a, b);
    REQUIRE(a.needs_snapshot());
    a.begin_snapshot(7);
    CHECK(a.snapshot_building());
    CHECK(!a.needs_snapshot());
    CHECK(!a.take_outgoing(kNow, 100));  // no change before the snapshot's last chunk
    std::vector<lbd::v1::Snapshot> chunks;
    auto step = [&](size_t buckets) {
        for (auto& chunk : a.snapshot_step(kNow, buckets)) chunks.push_back(std::move(chunk));
    };
    step(50);
    CHECK(a.snapshot_building());
    // Between steps: a record the walk may have passed changes, and enough
    // new ones arrive to rehash the map (the walk starts over).
    a.record_local(stick("k0", "s2"), kNow);
    for (int i = 1000; i < 5000; ++i) a.record_local(stick("k" + std::to_string(i), "s2"), kNow);
    size_t steps = 0;
    while (a.snapshot_building() && steps++ < 100000) step(64);
    REQUIRE(!a.snapshot_building());
    REQUIRE(!chunks.empty());
    CHECK(chunks.back().last());
    for (size_t i = 0; i < chunks.size(); ++i) {
        CHECK(chunks[i].chunk_index() == i);
        CHECK(chunks[i].last() == (i + 1 == chunks.size()));
        REQUIRE(b.apply_snapshot(chunks[i], kNow));
    }
    CHECK(b.synced_with_peer());
    pump(a, b);  // the writes made while building, queued after the snapshot
    CHECK(server_of(b, "k0") == "s2");
    CHECK(state_of(a) == state_of(b));
    CHECK(b.stick_count() == 5000);
}

}  // namespace lbd::ha
