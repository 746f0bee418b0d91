// Unit tests of the cache purges in the peer-sync state (ha/sync_state.h, the
// paragraph on CachePurge): queued, applied once, acked, resent on resume,
// kept through a snapshot for kPurgeKeepMs (longer while unacknowledged),
// never echoed, and never sent to a peer without the capability; a purge
// by tag only to a peer with the "cache-purge-tag" capability.
#include <doctest/doctest.h>

#include "tests/unit/sync_state_kit.h"

namespace lbd::ha {
namespace {

lbd::v1::CachePurge purge(const std::string& target, bool prefix = false) {
    lbd::v1::CachePurge record;
    record.set_zone("pages");
    record.set_target(target);
    record.set_prefix(prefix);
    return record;
}

// The purges among `from`'s next outgoing changes (all of them taken).
lbd::v1::CachePurge tag_purge(const std::string& tag) {
    lbd::v1::CachePurge record;
    record.set_zone("pages");
    record.set_tag(tag);
    return record;
}

std::vector<lbd::v1::Change> outgoing_purges(SyncState& from, uint64_t now = kNow) {
    std::vector<lbd::v1::Change> out;
    while (auto changes = from.take_outgoing(now, 100)) {
        for (const auto& change : changes->changes())
            if (change.has_purge()) out.push_back(change);
    }
    return out;
}

std::vector<lbd::v1::CachePurge> snapshot_purges(const std::vector<lbd::v1::Snapshot>& chunks) {
    std::vector<lbd::v1::CachePurge> out;
    for (const auto& chunk : chunks) out.insert(out.end(), chunk.purges().begin(), chunk.purges().end());
    return out;
}

TEST_CASE("purge: queued, sent as a change, applied once by the peer, freed by its ack") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    CHECK(a.peer_takes_purges());
    uint64_t sequence = a.record_local(purge("/img/", true), kNow);
    REQUIRE(sequence != 0);
    CHECK(a.queued() == 1);
    auto sent = outgoing_purges(a);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].origin() == "lb-a");
    CHECK(sent[0].sequence() == sequence);
    CHECK(sent[0].purge().target() == "/img/");
    CHECK(sent[0].purge().prefix());
    CHECK(b.apply_remote(sent[0], kNow) == Applied::kChanged);
    CHECK(b.apply_remote(sent[0], kNow) == Applied::kUnchanged);  // a duplicate is applied once
    a.on_ack(b.make_ack());
    CHECK(a.queued() == 0);
    // An invalid purge is refused before it gets a sequence.
    CHECK(a.record_local(purge(""), kNow) == 0);
}

TEST_CASE("purge: made while the link is down, or sent but not acked, it is resent on resume") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    a.record_local(purge("http://www.example.com/a"), kNow);
    REQUIRE(outgoing_purges(a).size() == 1);  // lost with the link: b never got it
    a.record_local(purge("http://www.example.com/b"), kNow);  // made while down

    CHECK(handshake(a, b) == Start::kResume);
    auto resent = outgoing_purges(a);
    REQUIRE(resent.size() == 2);
    CHECK(resent[0].purge().target() == "http://www.example.com/a");
    CHECK(resent[1].purge().target() == "http://www.example.com/b");
    for (const auto& change : resent) CHECK(b.apply_remote(change, kNow) == Applied::kChanged);
    a.on_ack(b.make_ack());
    CHECK(a.queued() == 0);
}

TEST_CASE("purge: a snapshot after a queue overflow carries it, within kPurgeKeepMs or while unacked") {
    SyncState a = node("lb-a", 1, /*queue_cap=*/4), b = node("lb-b", 2);
    connect_and_sync(a, b);
    a.record_local(purge("/old"), kNow);
    for (int i = 0; i < 10; ++i) a.record_local(stick("k" + std::to_string(i), "s1"), kNow);
    REQUIRE(a.needs_snapshot());  // the queue, and the purge's change in it, are gone

    // Reconnect: a owes a snapshot, and the purge is in it.
    handshake(a, b);
    auto chunks = a.take_snapshot(kNow, 3);
    auto carried = snapshot_purges(chunks);
    REQUIRE(carried.size() == 1);
    CHECK(carried[0].target() == "/old");
    CHECK(carried[0].version().node_id() == "lb-a");
    // Not acknowledged yet: kept past kPurgeKeepMs (the snapshot may be lost).
    uint64_t later = kNow + kPurgeKeepMs + 1;
    a.expire(later);
    CHECK(a.purge_count() == 1);

    SyncState::SnapshotWinners winners;
    size_t purges_won = 0;
    for (const auto& chunk : chunks) {
        REQUIRE(b.apply_snapshot(chunk, kNow, nullptr, &winners));
        purges_won += winners.purges.size();
    }
    CHECK(purges_won == 1);
    // The same snapshot again (the link dropped before the ack): not purged twice.
    handshake(a, b);
    for (const auto& chunk : chunks) {
        REQUIRE(b.apply_snapshot(chunk, kNow, nullptr, &winners));
        CHECK(winners.purges.empty());
    }
    // Acknowledged: it goes after kPurgeKeepMs, and the next snapshot is without it.
    a.on_ack(b.make_ack());
    a.expire(kNow + kPurgeKeepMs - 1);
    CHECK(a.purge_count() == 1);
    a.expire(later);
    CHECK(a.purge_count() == 0);
}

TEST_CASE("purge: the peer's purges are applied but never sent back") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    a.record_local(purge("/x"), kNow);
    auto sent = outgoing_purges(a);
    REQUIRE(sent.size() == 1);
    CHECK(b.apply_remote(sent[0], kNow) == Applied::kChanged);
    CHECK(b.purge_count() == 1);
    CHECK(b.queued() == 0);
    CHECK(outgoing_purges(b).empty());
    handshake(a, b);
    CHECK(snapshot_purges(b.take_snapshot(kNow, 100)).empty());  // only b's own purges go in its snapshots
    // A's own purge coming back to it is not applied again.
    lbd::v1::Change echo = sent[0];
    CHECK(a.apply_remote(echo, kNow) == Applied::kUnchanged);
}

TEST_CASE("purge: a peer without the cache-purge capability gets none, in changes or snapshots") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    lbd::v1::Hello old_hello = b.make_hello("prod", kDigest);
    old_hello.clear_capabilities();  // a node from before purges were synced
    REQUIRE(!hello_check(a.make_hello("prod", kDigest), old_hello));
    a.on_peer_hello(old_hello);
    CHECK(!a.peer_takes_purges());
    a.record_local(purge("/x"), kNow);
    CHECK(snapshot_purges(a.take_snapshot(kNow, 100)).empty());
    a.record_local(purge("/y"), kNow);
    a.record_local(stick("k1", "s1"), kNow);
    auto changes = a.take_outgoing(kNow, 100);
    REQUIRE(changes);
    REQUIRE(changes->changes_size() == 1);
    CHECK(changes->changes(0).has_stick());
    CHECK(a.queued() == 1);  // the stick only: the skipped purge left the queue
}

TEST_CASE("purge by tag: sent with its tag, applied once, kept apart from a target purge of the same text") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    connect_and_sync(a, b);
    CHECK(a.peer_takes_tag_purges());
    REQUIRE(a.record_local(tag_purge("product-42"), kNow) != 0);
    REQUIRE(a.record_local(purge("product-42"), kNow) != 0);  // a key, not the tag: not coalesced with it
    auto sent = outgoing_purges(a);
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].purge().tag() == "product-42");
    CHECK(sent[0].purge().target().empty());
    CHECK_FALSE(sent[0].purge().prefix());
    CHECK(sent[1].purge().tag().empty());
    CHECK(sent[1].purge().target() == "product-42");
    CHECK(b.apply_remote(sent[0], kNow) == Applied::kChanged);
    CHECK(b.apply_remote(sent[0], kNow) == Applied::kUnchanged);
    CHECK(b.apply_remote(sent[1], kNow) == Applied::kChanged);
    a.on_ack(b.make_ack());
    CHECK(a.queued() == 0);
    // Exactly one of target and tag, and a tag is never a prefix.
    lbd::v1::CachePurge both = tag_purge("t");
    both.set_target("/x");
    CHECK(a.record_local(both, kNow) == 0);
    lbd::v1::CachePurge tag_prefix = tag_purge("t");
    tag_prefix.set_prefix(true);
    CHECK(a.record_local(tag_prefix, kNow) == 0);
    lbd::v1::Change forged = sent[0];
    forged.mutable_purge()->set_target("/x");
    CHECK(b.apply_remote(forged, kNow) == Applied::kInvalid);
}

TEST_CASE("purge by tag: a peer with cache-purge but not cache-purge-tag gets the other purges only") {
    SyncState a = node("lb-a", 1), b = node("lb-b", 2);
    lbd::v1::Hello older = b.make_hello("prod", kDigest);
    older.clear_capabilities();  // a node from before purges by tag
    older.add_capabilities(std::string(kCapabilityCachePurge));
    REQUIRE(!hello_check(a.make_hello("prod", kDigest), older));
    a.on_peer_hello(older);
    CHECK(a.peer_takes_purges());
    CHECK_FALSE(a.peer_takes_tag_purges());
    a.record_local(tag_purge("t1"), kNow);
    a.record_local(purge("/x"), kNow);
    auto carried = snapshot_purges(a.take_snapshot(kNow, 100));
    REQUIRE(carried.size() == 1);
    CHECK(carried[0].target() == "/x");
    a.record_local(tag_purge("t2"), kNow);
    a.record_local(purge("/y"), kNow);
    auto sent = outgoing_purges(a);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].purge().target() == "/y");
    CHECK(a.queued() == 1);  // the skipped tag purge left the queue
}

}  // namespace
}  // namespace lbd::ha
