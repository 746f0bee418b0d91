// Tests of the peer-sync link (ha/sync_link.h) on real loopback sockets. Two
// links, nodes "a" (127.0.0.1, the dialer: its address sorts lower) and "b"
// (127.0.0.2), run on one event_base in this thread (two tests give B a loop
// of its own, said where); the test drives the loop one turn at a time until
// a condition holds or a deadline passes.
// Nothing sleeps: every wait is "loop until X", with a deadline that only
// decides failure. The link logs warnings and errors only; set
// LBD_TEST_LOG_DEBUG=1 for all of its lines.
#include "ha/sync_link.h"

#include <doctest/doctest.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "core/loop/event.h"
#include "core/base/log.h"
#include "ha/sync_codec.h"
#include "tests/unit/sync_link_kit.h"

namespace lbd::ha {

TEST_CASE("who dials: the lower listen address, compared by family, address bytes, then port") {
    CHECK(SyncLink::dials_peer(address("10.0.0.1", 7946), address("10.0.0.2", 7946)));
    CHECK(!SyncLink::dials_peer(address("10.0.0.2", 7946), address("10.0.0.1", 7946)));
    CHECK(SyncLink::dials_peer(address("10.0.0.1", 7000), address("10.0.0.1", 7946)));
    CHECK(!SyncLink::dials_peer(address("10.0.0.1", 7946), address("10.0.0.1", 7000)));
    CHECK(SyncLink::dials_peer(address("10.0.0.9", 1), address("10.0.1.0", 1)));  // bytes, not text
    auto v6 = SocketAddress::parse("[::1]:7946");
    REQUIRE(v6);
    CHECK(SyncLink::dials_peer(address("192.168.0.1", 7946), *v6));  // AF_INET < AF_INET6
    CHECK(!SyncLink::dials_peer(*v6, address("192.168.0.1", 7946)));
}

TEST_CASE("start refuses wildcard and identical addresses and short keys") {
    EventBasePtr base{event_base_new()};
    SyncState state(SyncState::Options{"a", 1, 0, 100});
    Recorder recorder;
    SyncLink::Options options;
    options.cluster_id = "prod";
    options.shared_key = kKey;
    options.listen = address("0.0.0.0", 7946);
    options.peer = address("10.0.0.2", 7946);
    std::string error;
    CHECK(!SyncLink(base.get(), options, state, recorder).start(&error));
    CHECK(error.find("wildcard") != std::string::npos);
    options.listen = options.peer;
    CHECK(!SyncLink(base.get(), options, state, recorder).start(&error));
    CHECK(error.find("same address") != std::string::npos);
    options.listen = address("127.0.0.1", 7946);
    options.shared_key = "short";
    CHECK(!SyncLink(base.get(), options, state, recorder).start(&error));
    CHECK(error.find("key") != std::string::npos);
}

TEST_CASE("connect: each side's records reach the other by snapshot") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    a.local(health("s1", ServerHealth::UP));
    a.local(health("s2", ServerHealth::DOWN));
    for (int i = 0; i < 10; ++i) a.local(stick("a" + std::to_string(i), "s1"));
    b.local(health("s3", ServerHealth::DRAIN));
    for (int i = 0; i < 5; ++i) b.local(stick("b" + std::to_string(i), "s2"));

    pair.start();
    pair.connect();
    CHECK(a.stats().dials);
    CHECK(!b.stats().dials);
    CHECK(a.recorder.health.size() == 1);
    CHECK(a.recorder.sticks == 5);
    CHECK(b.recorder.health.size() == 2);
    CHECK(b.recorder.sticks == 10);
    CHECK(a.recorder.ups == 1);
    CHECK(a.recorder.peer == "b");
    CHECK(b.recorder.peer == "a");
    CHECK(b.recorder.stick_server["a7"] == "s1");
    CHECK(b.state.find_health("web", "s2")->state() == ServerHealth::DOWN);
    for (Node* node : {&a, &b}) {
        auto stats = node->stats();
        CHECK(stats.connected);
        CHECK(stats.synced_with_peer);
        CHECK(stats.connects == 1);
        CHECK(stats.links_up == 1);
        CHECK(stats.disconnects == 0);
        CHECK(stats.snapshots_sent == 1);
        CHECK(stats.snapshots_received == 1);
        CHECK(stats.auth_failures == 0);
        CHECK(stats.frames_sent > 2);
        CHECK(stats.bytes_received > kPreambleBytes);
        CHECK(stats.queued == 0);
    }
    CHECK(contents(a.state) == contents(b.state));

    // Idle: heartbeats keep it up.
    run_for(pair.base.get(), 5 * kHeartbeatMs);
    CHECK(a.up());
    CHECK(b.up());
    CHECK(a.stats().last_heard_ms_ago < 3 * kHeartbeatMs);
    CHECK(a.stats().disconnects == 0);
}

TEST_CASE("incremental: changes on A reach B, acks drain A's queue, the lag is measured") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    pair.start();
    pair.connect();

    a.local(health("s1", ServerHealth::DOWN));
    // Ten bursts of 100, each in its own loop turns: ten or more lag samples.
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 100; ++i) a.local(stick(ip_key(static_cast<uint32_t>(round * 100 + i)), "s2"));
        REQUIRE(pair.run_until(5000, [&] { return a.link->all_acked(); }));
    }
    CHECK(b.recorder.sticks == 1000);
    REQUIRE(b.recorder.health.size() == 1);
    CHECK(b.recorder.health[0].state() == ServerHealth::DOWN);
    CHECK(b.server_of(ip_key(999)) == "s2");
    CHECK(a.stats().queued == 0);
    CHECK(a.stats().unacked_oldest_ms == 0);
    CHECK(a.stats().snapshots_sent == 1);  // no new snapshot: changes only
    CHECK(a.stats().lag_samples >= 10);
    std::string metrics;
    a.link->lag().write(metrics, "lag", "");
    CHECK(metrics.find("lag_count 0") == std::string::npos);
    uint64_t p50 = a.link->lag_percentile_ms(50), p99 = a.link->lag_percentile_ms(99);
    MESSAGE("sync lag over loopback: p50 " << p50 << " ms, p99 " << p99 << " ms (" << a.stats().lag_samples
                                          << " samples)");
    CHECK(p99 < 50);
    CHECK(contents(a.state) == contents(b.state));
}

TEST_CASE("concurrent writes of the same keys converge to the same winner on both sides") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    pair.start();
    pair.connect();
    // Both write every key before either hears of the other's writes. Extra
    // writes on one side or the other shift their Lamport clocks, so some
    // keys go to A's higher sequence, some to B's, and some tie (then the
    // higher node id, "b", wins).
    std::map<std::string, std::string> expected;
    int a_wins = 0, b_wins = 0, ties = 0;
    size_t a_extra = 0, b_extra = 0;
    for (int i = 0; i < 120; ++i) {
        std::string key = "k" + std::to_string(i);
        if (i % 40 == 10) a.local(stick("extra-a" + std::to_string(a_extra++), "s1"));
        for (int j = 0; j < 2 && i % 40 == 30; ++j) b.local(stick("extra-b" + std::to_string(b_extra++), "s1"));
        uint64_t a_seq = a.local(stick(key, "s1"));
        uint64_t b_seq = b.local(stick(key, "s2"));
        ties += a_seq == b_seq;
        expected[key] = a_seq > b_seq ? "s1" : "s2";
        (a_seq > b_seq ? a_wins : b_wins)++;
    }
    a.local(health("s1", ServerHealth::DOWN));
    b.local(health("s1", ServerHealth::MAINT));
    MESSAGE("concurrent writes: A's sequence higher for " << a_wins << " keys, B's for " << b_wins - ties
                                                         << ", equal for " << ties);
    REQUIRE(a_wins > 0);
    REQUIRE(ties > 0);
    REQUIRE(b_wins > ties);
    REQUIRE(pair.run_until(5000, [&] { return pair.synced(); }));
    CHECK(contents(a.state) == contents(b.state));
    for (const auto& [key, server] : expected) {
        CAPTURE(key);
        CHECK(a.server_of(key) == server);
        CHECK(b.server_of(key) == server);
    }
    // Each side's table was told exactly about the keys it lost.
    CHECK(a.recorder.stick_server.size() == static_cast<size_t>(b_wins) + b_extra);
    CHECK(b.recorder.stick_server.size() == static_cast<size_t>(a_wins) + a_extra);
    CHECK(a.state.find_health("web", "s1")->state() == b.state.find_health("web", "s1")->state());
}

TEST_CASE("a queue overflow while up sends a new snapshot, then changes resume") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    a.state = SyncState(SyncState::Options{"a", 101, 1'000'000, /*queue_cap=*/100});
    pair.start();
    pair.connect();
    // More changes in one loop turn than the queue holds.
    for (uint32_t i = 0; i < 300; ++i) a.local(stick(ip_key(i), "s1"));
    REQUIRE(pair.run_until(5000, [&] { return a.link->all_acked() && b.recorder.sticks == 300; }));
    CHECK(a.stats().snapshots_sent == 2);
    CHECK(b.stats().snapshots_received == 2);
    a.local(stick(ip_key(0), "s2"));
    REQUIRE(pair.run_until(5000, [&] { return a.link->all_acked(); }));
    CHECK(a.stats().snapshots_sent == 2);
    CHECK(b.server_of(ip_key(0)) == "s2");
    CHECK(a.stats().disconnects == 0);
    CHECK(contents(a.state) == contents(b.state));
}

namespace {

// Starts a pair that must not sync, waits until `failed` holds, then a
// little longer, and checks that nothing crossed.
void expect_no_sync(Pair& pair, const std::function<bool()>& failed) {
    Node &a = pair.a, &b = pair.b;
    a.local(health("s1", ServerHealth::DOWN));
    a.local(stick("x", "s1"));
    b.local(health("s2", ServerHealth::DOWN));
    b.local(stick("y", "s2"));
    pair.start();
    REQUIRE(pair.run_until(5000, failed));
    run_for(pair.base.get(), 3 * kHeartbeatMs);
    for (Node* node : {&a, &b}) {
        CHECK(node->recorder.applied() == 0);
        CHECK(node->recorder.ups == 0);
        CHECK(!node->state.synced_with_peer());
        CHECK(!node->up());
        CHECK(node->stats().links_up == 0);
    }
    CHECK(!a.state.find_health("web", "s2"));
    CHECK(!b.state.find_health("web", "s1"));
}

}  // namespace

TEST_CASE("wrong key: no link, authentication failures counted, nothing applied") {
    Pair pair;
    pair.b.options.shared_key = std::string(32, 'x');
    expect_no_sync(pair, [&] {
        return pair.a.stats().auth_failures + pair.b.stats().auth_failures > 0 && pair.a.stats().disconnects > 0 &&
               pair.b.stats().disconnects > 0;
    });
    CHECK(pair.a.stats().auth_failures + pair.b.stats().auth_failures >= 1);
    CHECK(pair.a.stats().refusals_received.empty());  // an AUTH refusal cannot be verified either
}

TEST_CASE("refusals: wrong cluster, server set, node id; counted on both sides, nothing applied") {
    struct Case {
        const char* reason;
        std::function<void(Pair&)> setup;
    };
    const Case cases[] = {
        {"WRONG_CLUSTER", [](Pair& pair) { pair.b.options.cluster_id = "staging"; }},
        {"SERVER_SET_MISMATCH",
         [](Pair& pair) { pair.b.options.server_set_digest = server_set_digest({{"web", "other"}}); }},
        {"DUPLICATE_NODE_ID",
         [](Pair& pair) { pair.b.state = SyncState(SyncState::Options{"a", 303, 1'000'000, 65536}); }},
    };
    for (const auto& test : cases) {
        CAPTURE(test.reason);
        Pair pair;
        test.setup(pair);
        auto counted = [&](const Node& node) {
            auto stats = node.stats();
            return stats.refusals_sent[test.reason] + stats.refusals_received[test.reason];
        };
        expect_no_sync(pair, [&] { return counted(pair.a) >= 2 && counted(pair.b) >= 2; });
        // Both check the other's Hello, so each refuses and each reads the
        // other's Refusal (it lingers for it before closing).
        for (Node* node : {&pair.a, &pair.b}) {
            auto stats = node->stats();
            CHECK(stats.refusals_sent[test.reason] == 1);
            CHECK(stats.refusals_received[test.reason] == 1);
            CHECK(stats.auth_failures == 0);
            CHECK(stats.disconnects == 1);
        }
        // The dialer waits 5 s after a refusal: no second attempt yet.
        CHECK(pair.a.stats().connects == 1);
    }
}

TEST_CASE("a link that drops resumes: changes made meanwhile arrive without a new snapshot") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    for (int i = 0; i < 50; ++i) a.local(stick("before" + std::to_string(i), "s1"));
    pair.start();
    pair.connect();

    SUBCASE("B's link restarts, its SyncState stays") {
        b.link.reset();
        REQUIRE(pair.run_until(2000, [&] { return !a.up(); }));
        CHECK(a.recorder.downs == 1);
        for (int i = 0; i < 20; ++i) a.local(stick("during-a" + std::to_string(i), "s2"));
        for (int i = 0; i < 10; ++i) b.local(stick("during-b" + std::to_string(i), "s1"));
        a.local(health("s1", ServerHealth::MAINT));
        b.start();
        REQUIRE(pair.run_until(5000, [&] { return pair.synced(); }));
        CHECK(a.stats().snapshots_sent == 1);
        CHECK(a.stats().snapshots_received == 1);
        CHECK(b.stats().snapshots_sent == 0);  // the new link
        CHECK(b.stats().snapshots_received == 0);
        CHECK(a.stats().links_up == 2);
        CHECK(a.recorder.ups == 2);
        CHECK(b.recorder.stick_server["during-a19"] == "s2");
        CHECK(a.recorder.stick_server["during-b9"] == "s1");
    }
    SUBCASE("reconnect() closes the connection; the dialer comes back") {
        a.link->reconnect("test");
        CHECK(!a.up());
        for (int i = 0; i < 20; ++i) a.local(stick("during-a" + std::to_string(i), "s2"));
        REQUIRE(pair.run_until(5000, [&] { return pair.synced() && b.stats().links_up == 2; }));
        CHECK(a.stats().disconnects == 1);
        CHECK(b.stats().disconnects == 1);
        CHECK(a.stats().snapshots_sent == 1);
        CHECK(b.stats().snapshots_sent == 1);
        CHECK(b.recorder.stick_server["during-a19"] == "s2");
    }
    CHECK(contents(a.state) == contents(b.state));
}

TEST_CASE("the listener replaces its connection when the peer connects again") {
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    // Long heartbeats: the handshake deadline (6 s) cannot be what closes
    // the old connection within the test's 5 s.
    a.options.heartbeat_ms = b.options.heartbeat_ms = 2000;
    b.start();
    // The old connection of an A that rebooted: from A's address, silent.
    UniqueFd old(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SocketAddress from = address("127.0.0.1", 0);
    REQUIRE(bind(old.get(), from.sockaddr_ptr(), from.length()) == 0);
    REQUIRE(connect(old.get(), b.options.listen.sockaddr_ptr(), b.options.listen.length()) == 0);
    REQUIRE(pair.run_until(2000, [&] { return b.stats().connects == 1; }));
    a.start();
    REQUIRE(pair.run_until(5000, [&] { return pair.synced(); }));
    CHECK(b.stats().connects == 2);
    CHECK(b.stats().disconnects == 1);
    CHECK(b.stats().rejected_connections == 0);
    // B closed the old one: its preamble, then EOF.
    char buf[256];
    CHECK(recv(old.get(), buf, sizeof buf, MSG_DONTWAIT) == static_cast<ssize_t>(kPreambleBytes));
    CHECK(recv(old.get(), buf, sizeof buf, MSG_DONTWAIT) == 0);
}

TEST_CASE("connections from elsewhere are closed") {
    Pair pair;
    Node &b = pair.b;
    // Only B starts (it accepts); a stranger on 127.0.0.3 connects.
    b.start();
    UniqueFd stranger(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SocketAddress from = address("127.0.0.3", 0);
    REQUIRE(bind(stranger.get(), from.sockaddr_ptr(), from.length()) == 0);
    REQUIRE(connect(stranger.get(), b.options.listen.sockaddr_ptr(), b.options.listen.length()) == 0);
    REQUIRE(pair.run_until(2000, [&] { return b.stats().rejected_connections == 1; }));
    CHECK(b.stats().connects == 0);
}

TEST_CASE("dead peer: a listener that never answers is given up on within the handshake deadline") {
    Pair pair;
    Node& a = pair.a;
    // Something holds B's address: the kernel completes the TCP handshake
    // from the backlog, and nothing is ever read or written.
    UniqueFd mute(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(mute.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    REQUIRE(bind(mute.get(), a.options.peer.sockaddr_ptr(), a.options.peer.length()) == 0);
    REQUIRE(listen(mute.get(), 8) == 0);
    uint64_t started = monotonic_ms();
    a.start();
    REQUIRE(pair.run_until(5000, [&] { return a.stats().disconnects >= 1; }));
    uint64_t took = monotonic_ms() - started;
    MESSAGE("gave up on a mute peer after " << took << " ms (handshake deadline " << 3 * kHeartbeatMs << " ms)");
    CHECK(took >= 3 * kHeartbeatMs);
    CHECK(took < 3 * kHeartbeatMs + 500);
    CHECK(a.stats().connects == 1);
    CHECK(a.stats().links_up == 0);
    CHECK(a.recorder.applied() == 0);
}

TEST_CASE("dead peer: a link that goes silent is closed after 3 heartbeats and redialed") {
    // B on a loop of its own, which the test stops running: B's kernel still
    // acknowledges bytes, but B never reads or writes a frame again.
    EventBasePtr b_base{event_base_new()};  // declared first: it outlives B's link
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    b.base = b_base.get();
    pair.start();
    uint64_t end = monotonic_ms() + 5000;
    while (!pair.synced() && monotonic_ms() < end) {
        event_base_loop(pair.base.get(), EVLOOP_NONBLOCK);
        event_base_loop(b_base.get(), EVLOOP_NONBLOCK);
    }
    REQUIRE(pair.synced());
    uint64_t silent_since = monotonic_ms();
    REQUIRE(pair.run_until(5000, [&] { return !a.up(); }));
    uint64_t took = monotonic_ms() - silent_since;
    MESSAGE("link to a silent peer closed after " << took << " ms (3 heartbeats = " << 3 * kHeartbeatMs << " ms)");
    CHECK(took >= 3 * kHeartbeatMs - kHeartbeatMs);  // the last frame may predate the silence
    CHECK(took < 5 * kHeartbeatMs);
    CHECK(a.stats().disconnects == 1);
    CHECK(a.recorder.downs == 1);
    // And redials, 100 ms later (B's kernel completes the connection from
    // its listen backlog, though B will never answer).
    REQUIRE(pair.run_until(2000, [&] { return a.stats().connects == 2; }));
}

// B runs on a thread of its own here (LoopThread says why).
TEST_CASE("a million stick entries: full resync on connect, with B on its own thread") {
    EventBasePtr b_base{event_base_new()};  // outlives B's link
    Pair pair;
    Node &a = pair.a, &b = pair.b;
    b.base = b_base.get();
    b.recorder.keep = false;
    // The test is about volume, not liveness: a 1 s heartbeat (dead after 3 s) keeps a machine
    // busy with other builds from flapping the link while each side works through 30 MiB. The
    // no-flap check below still catches a node that stalls its peer for seconds.
    a.options.heartbeat_ms = b.options.heartbeat_ms = 1000;
    constexpr uint32_t kEntries = 1'000'000;
    uint64_t t0 = monotonic_ms();
    for (uint32_t i = 0; i < kEntries; ++i) a.local(stick(ip_key(i), i % 2 ? "s1" : "s2"));
    uint64_t t1 = monotonic_ms();
    pair.start();

    // From here until the join, B (its link, state and recorder) belongs to
    // its thread; this thread looks at A only.
    LoopThread b_thread(b_base.get());
    size_t max_output = 0;
    // A's snapshot acknowledged means B applied all of it.
    bool done = pair.run_until(120'000, [&] {
        max_output = std::max(max_output, a.up() ? a.stats().output_bytes : 0);
        return a.up() && a.state.synced_with_peer() && a.link->all_acked();
    });
    uint64_t t2 = monotonic_ms();
    b_thread.stop();
    REQUIRE(done);

    CHECK(b.recorder.sticks == kEntries);
    CHECK(b.state.stick_count() == kEntries);
    CHECK(b.state.synced_with_peer());
    CHECK(b.server_of(ip_key(kEntries - 1)) == "s1");
    auto stats = a.stats();
    MESSAGE("1M entries: recorded in " << t1 - t0 << " ms; connect + full resync + ack in " << t2 - t1 << " ms; A sent "
                                       << stats.frames_sent << " frames, " << stats.bytes_sent / (1024 * 1024)
                                       << " MiB; B received " << b.stats().bytes_received / (1024 * 1024) << " MiB");
    // Back-pressure: encoding stops past 4 MiB buffered; one more frame may
    // cross it (a chunk of 4096 records is well under 1 MiB).
    MESSAGE("most bytes in A's output buffer: " << max_output);
    CHECK(max_output < 5 * 1024 * 1024);
    CHECK(stats.snapshots_sent == 1);
    CHECK(stats.links_up == 1);  // no flap while A built the snapshot
    CHECK(stats.disconnects == 0);
    CHECK(b.stats().disconnects == 0);
    CHECK(t2 - t1 < 60'000);
}

}  // namespace lbd::ha
