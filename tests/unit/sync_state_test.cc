// Unit tests of the peer-sync state (ha/sync_state.h). Two SyncState
// instances play the two nodes; messages move between them in memory (and
// through the real codec in the last tests). Time is an argument: no sleeps.
#include "ha/sync_state.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "ha/sync_codec.h"

namespace lbd::ha {
namespace {

using lbd::v1::ServerHealth;
using lbd::v1::StickRecord;
using Start = SyncState::Start;
using Applied = SyncState::Applied;

constexpr uint64_t kNow = 1'000'000;
constexpr uint32_t kTtl = 600'000;
const std::string kDigest = server_set_digest({{"web", "s1"}, {"web", "s2"}});

SyncState node(const std::string& id, uint64_t epoch, size_t queue_cap = 1000, uint64_t clock_floor = 0) {
    return SyncState(SyncState::Options{id, epoch, clock_floor, queue_cap});
}

StickRecord stick(const std::string& key, const std::string& server, uint32_t ttl = kTtl) {
    StickRecord record;
    record.set_pool("web");
    record.set_kind(StickRecord::SOURCE_IP);
    record.set_key(key);
    record.set_server(server);
    record.set_ttl_remaining_ms(ttl);
    return record;
}

StickRecord erase(const std::string& key, uint32_t tombstone_ttl = 0) {
    StickRecord record = stick(key, "", tombstone_ttl);
    record.set_erase(true);
    return record;
}

ServerHealth health(const std::string& server, ServerHealth::State state, uint32_t weight = 1) {
    ServerHealth record;
    record.set_pool("web");
    record.set_server(server);
    record.set_state(state);
    record.set_weight(weight);
    record.set_last_change_unix_ms(1700000000000);
    return record;
}

std::string server_of(const SyncState& state, const std::string& key, uint64_t now = kNow) {
    auto record = state.find_stick("web", StickRecord::SOURCE_IP, key, now);
    return record ? record->server() : "<none>";
}

// Hello both ways; returns what `a` decided for its direction.
Start handshake(SyncState& a, SyncState& b, Start* b_start = nullptr) {
    auto hello_a = a.make_hello("prod", kDigest);
    auto hello_b = b.make_hello("prod", kDigest);
    REQUIRE(!hello_check(hello_a, hello_b));
    REQUIRE(!hello_check(hello_b, hello_a));
    Start start = a.on_peer_hello(hello_b);
    Start other = b.on_peer_hello(hello_a);
    if (b_start) *b_start = other;
    return start;
}

// Everything `from` has for `to`: a snapshot if needed, then changes; then
// `to` acks. Returns how many changes went.
size_t pump(SyncState& from, SyncState& to, uint64_t now = kNow, size_t batch = 100) {
    if (from.needs_snapshot()) {
        for (const auto& chunk : from.take_snapshot(now, 1000)) REQUIRE(to.apply_snapshot(chunk, now));
    }
    size_t sent = 0;
    while (auto changes = from.take_outgoing(now, batch)) {
        for (const auto& change : changes->changes()) REQUIRE(to.apply_remote(change, now) != Applied::kInvalid);
        sent += changes->changes_size();
    }
    from.on_ack(to.make_ack());
    return sent;
}

void connect_and_sync(SyncState& a, SyncState& b) {
    handshake(a, b);
    pump(a, b);
    pump(b, a);
}

// Both nodes' records, in a canonical order, as bytes.
std::vector<std::string> state_of(const SyncState& state, uint64_t now = kNow) {
    SnapshotRecords records = state.records(now);
    std::vector<std::string> out;
    for (const auto& h : records.health) out.push_back("H " + h.SerializeAsString());
    for (const auto& s : records.sticks) out.push_back("S " + s.SerializeAsString());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

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

TEST_CASE("concurrent writes converge to the same record on both nodes, in either order of arrival") {
    for (bool a_first : {true, false}) {
        CAPTURE(a_first);
        SyncState a = node("lb-a", 1), b = node("lb-b", 2);
        connect_and_sync(a, b);
        // Equal sequences (both made one write since the sync): the node id decides.
        a.record_local(stick("10.0.0.1", "s1"), kNow);
        b.record_local(stick("10.0.0.1", "s2"), kNow);
        a.record_local(health("s1", ServerHealth::DOWN));
        b.record_local(health("s1", ServerHealth::DRAIN));
        auto from_a = a.take_outgoing(kNow, 100), from_b = b.take_outgoing(kNow, 100);
        REQUIRE(from_a);
        REQUIRE(from_b);
        auto deliver = [](const lbd::v1::Changes& changes, SyncState& to) {
            for (const auto& change : changes.changes()) to.apply_remote(change, kNow);
        };
        if (a_first) {
            deliver(*from_a, b);
            deliver(*from_b, a);
        } else {
            deliver(*from_b, a);
            deliver(*from_a, b);
        }
        CHECK(server_of(a, "10.0.0.1") == "s2");
        CHECK(server_of(b, "10.0.0.1") == "s2");
        CHECK(a.find_health("web", "s1")->state() == ServerHealth::DRAIN);
        CHECK(state_of(a) == state_of(b));
        // The losing write was dropped from lb-a's queue: it never goes out.
        a.on_ack(b.make_ack());
        CHECK(!a.take_outgoing(kNow, 100));
    }
}

TEST_CASE("a write made after seeing the peer's wins over it (Lamport sequence)") {
    SyncState a = node("lb-a", 1, 1000, /*clock_floor=*/5000), b = node("lb-b", 2);
    connect_and_sync(a, b);
    a.record_local(stick("10.0.0.1", "s1"), kNow);
    pump(a, b);
    CHECK(b.sequence() > 5000);
    // lb-b's own counter was far behind; after seeing lb-a's write its next
    // write outranks it, though "lb-b" would also win a tie here.
    uint64_t seq = b.record_local(stick("10.0.0.1", "s2"), kNow);
    CHECK(seq > 5001);
    pump(b, a);
    CHECK(server_of(a, "10.0.0.1") == "s2");
    // A stale write of lb-a's (an old sequence) loses on lb-b.
    lbd::v1::Change stale;
    stale.set_origin("lb-a");
    stale.set_sequence(5001);
    *stale.mutable_stick() = stick("10.0.0.1", "s1");
    stale.mutable_stick()->mutable_version()->set_sequence(5001);
    stale.mutable_stick()->mutable_version()->set_node_id("lb-a");
    CHECK(b.apply_remote(stale, kNow) == Applied::kUnchanged);
    CHECK(server_of(b, "10.0.0.1") == "s2");
}

TEST_CASE("an erase beats an older concurrent set (tombstone), until the tombstone expires") {
    for (bool erase_first : {true, false}) {
        CAPTURE(erase_first);
        SyncState a = node("lb-a", 1), b = node("lb-b", 2);
        a.record_local(stick("10.0.0.1", "s1"), kNow);
        connect_and_sync(a, b);
        b.record_local(stick("10.0.0.1", "s2"), kNow);  // concurrent, lower version
        a.record_local(stick("10.0.0.1", "s9"), kNow);
        a.record_local(erase("10.0.0.1"), kNow);  // a's newest write: the erase
        auto from_a = a.take_outgoing(kNow, 100), from_b = b.take_outgoing(kNow, 100);
        REQUIRE(from_a);
        REQUIRE(from_b);
        if (erase_first) {
            for (const auto& c : from_a->changes()) b.apply_remote(c, kNow);
            for (const auto& c : from_b->changes()) CHECK(a.apply_remote(c, kNow) == Applied::kUnchanged);
        } else {
            for (const auto& c : from_b->changes()) a.apply_remote(c, kNow);
            for (const auto& c : from_a->changes()) CHECK(b.apply_remote(c, kNow) == Applied::kChanged);
        }
        CHECK(server_of(a, "10.0.0.1") == "<none>");
        CHECK(server_of(b, "10.0.0.1") == "<none>");
        CHECK(state_of(a) == state_of(b));
    }
    // The tombstone lives for the erase's ttl (default kDefaultTombstoneMs).
    SyncState a = node("lb-a", 1);
    a.record_local(erase("10.0.0.1"), kNow);
    CHECK(a.stick_count() == 1);
    CHECK(a.expire(kNow + kDefaultTombstoneMs - 1) == 0);
    CHECK(a.expire(kNow + kDefaultTombstoneMs) == 1);
    CHECK(a.stick_count() == 0);
}

TEST_CASE("random concurrent churn on both nodes converges whatever the interleaving") {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 50; ++round) {
        CAPTURE(round);
        SyncState a = node("lb-a", 1, 64), b = node("lb-b", 2, 64);
        connect_and_sync(a, b);
        for (int step = 0; step < 300; ++step) {
            SyncState& writer = rng() % 2 ? a : b;
            std::string key = "k" + std::to_string(rng() % 20);
            switch (rng() % 6) {
                case 0: writer.record_local(erase(key), kNow); break;
                case 1: writer.record_local(health("s" + std::to_string(rng() % 3), ServerHealth::DOWN)); break;
                case 2: writer.record_local(health("s" + std::to_string(rng() % 3), ServerHealth::UP)); break;
                default: writer.record_local(stick(key, "s" + std::to_string(rng() % 3)), kNow); break;
            }
            // Each direction delivers in order (TCP), at random moments.
            if (rng() % 4 == 0) pump(a, b, kNow, 1 + rng() % 5);
            if (rng() % 4 == 0) pump(b, a, kNow, 1 + rng() % 5);
        }
        pump(a, b);
        pump(b, a);
        REQUIRE(state_of(a) == state_of(b));
    }
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

namespace {

// One end of a connection over the real codec: preamble, keys, frames.
struct Endpoint {
    SyncState state;
    Role role;
    Nonce nonce;
    std::string inbox;  // bytes received before the keys exist
    std::optional<FrameWriter> writer;
    std::optional<FrameReader> reader;

    Endpoint(SyncState s, Role r, unsigned char fill) : state(std::move(s)), role(r) { nonce.fill(fill); }

    // Bytes from the peer; returns the messages they completed.
    std::vector<lbd::v1::SyncMessage> receive(const std::string& bytes, const std::string& key) {
        std::vector<lbd::v1::SyncMessage> out;
        if (!reader) {
            inbox += bytes;
            auto preamble = decode_preamble(inbox);
            REQUIRE(preamble.status != PreambleResult::Status::kMalformed);
            if (preamble.status == PreambleResult::Status::kNeedMore) return out;
            auto keys = derive_session_keys(key, role, nonce, preamble.nonce);
            REQUIRE(keys);
            writer.emplace(keys->send);
            reader.emplace(keys->receive);
            reader->feed(std::string_view(inbox).substr(preamble.consumed));
        } else {
            reader->feed(bytes);
        }
        while (true) {
            auto result = reader->next();
            REQUIRE(result.status != FrameReader::Result::Status::kError);
            if (result.status == FrameReader::Result::Status::kNeedMore) return out;
            out.push_back(std::move(result.message));
        }
    }

    std::string send(const lbd::v1::SyncMessage& message) {
        auto frame = writer->encode(message);
        REQUIRE(frame);
        return *frame;
    }
};

}  // namespace

TEST_CASE("end to end over the codec: preamble, Hello, snapshot, changes, acks; a wrong cluster is refused") {
    const std::string key(32, 's');
    Endpoint a(node("lb-a", 11), Role::kDialer, 1), b(node("lb-b", 22), Role::kListener, 2);
    a.state.record_local(stick("10.0.0.1", "s1"), kNow);
    b.state.record_local(health("s2", ServerHealth::DOWN));

    // Both preambles cross; then each side's first frame is its Hello.
    REQUIRE(b.receive(encode_preamble(a.nonce), key).empty());
    REQUIRE(a.receive(encode_preamble(b.nonce), key).empty());
    auto hello_of = [](Endpoint& e, const std::string& cluster) {
        lbd::v1::SyncMessage message;
        *message.mutable_hello() = e.state.make_hello(cluster, kDigest);
        return e.send(message);
    };
    // One round: deliver `bytes` to `to`, let it handle every message, and
    // return what it sends back.
    auto handle = [&](Endpoint& to, const std::string& bytes, const std::string& cluster) {
        std::string reply;
        for (const auto& message : to.receive(bytes, key)) {
            lbd::v1::SyncMessage out;
            switch (message.body_case()) {
                case lbd::v1::SyncMessage::kHello: {
                    auto refusal = hello_check(to.state.make_hello(cluster, kDigest), message.hello());
                    if (refusal) {
                        out.mutable_refusal()->set_reason(*refusal);
                        return to.send(out);
                    }
                    to.state.on_peer_hello(message.hello());
                    if (to.state.needs_snapshot()) {
                        for (auto& chunk : to.state.take_snapshot(kNow, 1000)) {
                            *out.mutable_snapshot() = std::move(chunk);
                            reply += to.send(out);
                        }
                    }
                    break;
                }
                case lbd::v1::SyncMessage::kSnapshot:
                    REQUIRE(to.state.apply_snapshot(message.snapshot(), kNow));
                    *out.mutable_ack() = to.state.make_ack();
                    reply += to.send(out);
                    break;
                case lbd::v1::SyncMessage::kChanges:
                    for (const auto& change : message.changes().changes()) to.state.apply_remote(change, kNow);
                    *out.mutable_ack() = to.state.make_ack();
                    reply += to.send(out);
                    break;
                case lbd::v1::SyncMessage::kAck: to.state.on_ack(message.ack()); break;
                default: FAIL("unexpected message");
            }
        }
        if (auto changes = to.state.take_outgoing(kNow, 100)) {
            lbd::v1::SyncMessage out;
            *out.mutable_changes() = std::move(*changes);
            reply += to.send(out);
        }
        return reply;
    };

    SUBCASE("same cluster: both sync") {
        std::string to_b = hello_of(a, "prod"), to_a = hello_of(b, "prod");
        for (int round = 0; round < 8; ++round) {
            std::string next_to_a = handle(b, to_b, "prod");
            std::string next_to_b = handle(a, to_a, "prod");
            to_a = std::move(next_to_a);
            to_b = std::move(next_to_b);
            if (round == 2) a.state.record_local(stick("10.0.0.2", "s2"), kNow);  // a live change
        }
        CHECK(a.state.synced_with_peer());
        CHECK(b.state.synced_with_peer());
        CHECK(server_of(b.state, "10.0.0.2") == "s2");
        CHECK(a.state.find_health("web", "s2"));
        CHECK(state_of(a.state) == state_of(b.state));
        CHECK(a.state.queued() == 0);
    }
    SUBCASE("another cluster: refused, nothing applied") {
        std::string refusal = handle(b, hello_of(a, "staging"), "prod");
        auto messages = a.receive(refusal, key);
        REQUIRE(messages.size() == 1);
        CHECK(messages[0].refusal().reason() == lbd::v1::Refusal::WRONG_CLUSTER);
        CHECK(b.state.stick_count() == 0);
    }
}

TEST_CASE("one million stick records: snapshot, frame, apply; the peer holds them all") {
    constexpr size_t kRecords = 1'000'000;
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point start) {
        return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    };
    SyncState a = node("lb-a", 1, 65536), b = node("lb-b", 2);
    auto t0 = Clock::now();
    for (size_t i = 0; i < kRecords; ++i) {
        uint32_t ip = 0x0a000000u + static_cast<uint32_t>(i);
        std::string key(4, '\0');
        for (int byte = 0; byte < 4; ++byte) key[byte] = static_cast<char>(ip >> (8 * (3 - byte)));
        a.record_local(stick(key, i % 2 ? "s1" : "s2"), kNow);
    }
    double fill_ms = ms_since(t0);
    handshake(a, b);

    auto keys_a = derive_session_keys(std::string(32, 'k'), Role::kDialer, Nonce{1}, Nonce{2});
    REQUIRE(keys_a);
    FrameWriter writer(keys_a->send);
    auto keys_b = derive_session_keys(std::string(32, 'k'), Role::kListener, Nonce{2}, Nonce{1});
    REQUIRE(keys_b);
    FrameReader reader(keys_b->receive);

    auto t1 = Clock::now();
    auto chunks = a.take_snapshot(kNow, 10000);
    double snapshot_ms = ms_since(t1);
    auto t2 = Clock::now();
    std::vector<std::string> frames;
    size_t wire_bytes = 0;
    for (auto& chunk : chunks) {
        lbd::v1::SyncMessage message;
        *message.mutable_snapshot() = std::move(chunk);
        auto frame = writer.encode(message);
        REQUIRE(frame);
        wire_bytes += frame->size();
        frames.push_back(std::move(*frame));
    }
    double encode_ms = ms_since(t2);
    auto t3 = Clock::now();
    size_t chunks_applied = 0;
    for (const auto& frame : frames) {
        reader.feed(frame);
        auto result = reader.next();
        REQUIRE(result.status == FrameReader::Result::Status::kMessage);
        REQUIRE(b.apply_snapshot(result.message.snapshot(), kNow));
        ++chunks_applied;
    }
    double apply_ms = ms_since(t3);

    CHECK(b.stick_count() == kRecords);
    CHECK(b.synced_with_peer());
    CHECK(server_of(b, std::string("\x0a\x00\x00\x01", 4)) == "s1");
    std::printf(
        "1M stick records: fill %.0f ms; snapshot %.0f ms (%zu chunks); frame+MAC %.0f ms (%.1f MB); "
        "verify+parse+apply %.0f ms; resync total %.0f ms\n",
        fill_ms, snapshot_ms, chunks_applied, encode_ms, wire_bytes / 1e6, apply_ms,
        snapshot_ms + encode_ms + apply_ms);
}

}  // namespace lbd::ha
