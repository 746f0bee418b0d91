// A big snapshot while the link is up (issue 18): the sender builds it a
// slice at a time and keeps talking, so a peer with a short heartbeat
// deadline keeps the link. Before, the sender built a million records in one
// go (about a second, several on a loaded machine) and said nothing
// meanwhile: the peer, 3 missed 200 ms heartbeats later, dropped the link
// and the resync started over (the unit_sync_link flake of issue 18). Real loopback sockets (sync_link_kit.h), B on a
// thread of its own.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "ha/sync_link_impl.h"
#include "tests/unit/sync_link_kit.h"

namespace lbd::ha {

// The receiving side: a received chunk of 4096 records is merged and applied
// to the live tables a slice (kApplySliceRecords) per loop turn, so that B's
// heartbeats, reads and admin plane go on between slices. Counted by the
// Observer calls each turn of the shared loop makes.
TEST_CASE("a received snapshot chunk is applied a slice per loop turn, in order with later changes") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    constexpr uint32_t kEntries = 20'000;
    for (uint32_t i = 0; i < kEntries; ++i) a.local(stick(ip_key(i), "s1"));
    pair.start();
    size_t most_in_one_turn = 0, turns_applying = 0;
    auto one_turn = [&] {
        size_t before = b.recorder.sticks;
        event_base_loop(pair.base.get(), EVLOOP_ONCE);
        size_t applied = b.recorder.sticks - before;
        most_in_one_turn = std::max(most_in_one_turn, applied);
        turns_applying += applied > 0;
    };
    // A change made while B works through the snapshot lands after it.
    bool changed = false;
    uint64_t end = monotonic_ms() + 20'000;
    while (!(pair.synced() && changed) && monotonic_ms() < end) {
        one_turn();
        if (!changed && b.recorder.sticks > kEntries / 2) {
            a.local(stick(ip_key(7), "s2"));
            changed = true;
        }
    }
    REQUIRE(pair.synced());
    MESSAGE(kEntries << " records applied over " << turns_applying << " loop turns, at most " << most_in_one_turn
                     << " in one");
    CHECK(most_in_one_turn <= kApplySliceRecords);
    CHECK(turns_applying >= kEntries / kApplySliceRecords);
    CHECK(b.recorder.stick_server.size() == kEntries);
    CHECK(b.recorder.stick_server[ip_key(7)] == "s2");
    CHECK(b.server_of(ip_key(7)) == "s2");
    CHECK(a.stats().disconnects == 0);
}

TEST_CASE("a million-entry snapshot while up: a peer with 200 ms heartbeats keeps the link") {
    EventBasePtr b_base{event_base_new()};  // outlives B's link
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    b.base = b_base.get();
    b.recorder.keep = false;
    // A small queue: 101 changes while up overflow it, and B gets a snapshot.
    a.state = SyncState(SyncState::Options{"a", 101, 1'000'000, /*queue_cap=*/100});
    a.options.heartbeat_ms = b.options.heartbeat_ms = 200;  // dead after 600 ms of silence
    constexpr uint32_t kEntries = 1'000'000;
    for (uint32_t i = 0; i < kEntries; ++i) a.local(stick(ip_key(i), i % 2 ? "s1" : "s2"));
    pair.start();
    LoopThread b_thread(b_base.get());  // from here B belongs to its thread; this one looks at A only
    auto a_synced = [&](uint64_t snapshots) {
        return a.up() && a.stats().snapshots_sent >= snapshots && a.state.synced_with_peer() &&
               a.link->all_acked();
    };
    REQUIRE(pair.run_until(120'000, [&] { return a_synced(1); }));
    const SyncLink::Stats before = a.stats();
    uint64_t t0 = monotonic_ms();
    // The overflow: every entry is moved to the other server from the first
    // change on, so B's table must end up with the new servers.
    for (uint32_t i = 0; i < 101; ++i) a.local(stick(ip_key(i), i % 2 ? "s2" : "s1"));
    bool done = pair.run_until(120'000, [&] { return a_synced(before.snapshots_sent + 1); });
    uint64_t took = monotonic_ms() - t0;
    b_thread.stop();
    REQUIRE(done);
    auto stats = a.stats();
    MESSAGE("second snapshot of 1M entries while up, 200 ms heartbeats: sent and acknowledged in " << took
            << " ms; A sent " << stats.frames_sent << " frames in all");
    MESSAGE("the link came up " << before.links_up << " time(s) for the first snapshot");
    // While the second was built and sent, the link never dropped.
    CHECK(stats.links_up == before.links_up);
    CHECK(stats.disconnects == before.disconnects);
    CHECK(stats.snapshots_sent == before.snapshots_sent + 1);
    CHECK(b.state.stick_count() == kEntries);
    CHECK(b.server_of(ip_key(0)) == "s1");
    CHECK(b.server_of(ip_key(1)) == "s2");
    CHECK(b.server_of(ip_key(kEntries - 1)) == "s1");
}

}  // namespace lbd::ha
