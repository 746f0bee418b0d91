// Unit tests of the sync's conflict rule (ha/sync_state.h): concurrent writes
// converge on both nodes in any order, a write made after seeing another
// wins (Lamport sequence), and tombstones keep an erase from being undone.
#include <doctest/doctest.h>

#include "tests/unit/sync_state_kit.h"

namespace lbd::ha {
namespace {

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

}  // namespace
}  // namespace lbd::ha
