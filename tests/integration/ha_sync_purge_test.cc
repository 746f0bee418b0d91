// A cache purge reaches the HA peer (issue 13): two real lbd nodes of a pair
// on loopback (ha_pair.h), each with a cache zone in front of the same
// scripted origin that counts its requests (cache_origin.py). `lbctl cache
// purge` on A must make B's next request for the object a MISS that reaches
// the origin: within a second over a live link, and after the link comes
// back when the purge was made while it was down. A purge by tag (zones
// with a tag_header) reaches B the same way, and purges only what B has
// under that tag.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "tests/integration/cache_origin.h"
#include "tests/integration/ha_pair.h"
#include "tests/integration/lbctl_run.h"
#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

const std::string kObject = "/obj?h=Cache-Control:max-age%3D600";
const std::string kCacheListener =
    "  mode: MODE_HTTP\n"
    "  http { routes { pool: \"p\" cache { zone: \"z\" } } }\n";
const std::string kCacheZone = "cache_zones { name: \"z\" }\n";

// X-Cache of a GET of `target` through `node`, or "<no reply>".
std::string x_cache(Node& node, const std::string& target = kObject) {
    auto reply = http_request(node.port(), get_request(target), kIoTimeoutMs);
    return reply ? reply->header("X-Cache") : "<no reply>";
}

// Asks `node` for `target` until it is a MISS (a HIT changes nothing); the
// milliseconds that took, or -1 at the deadline.
int64_t ms_until_miss(Node& node, int timeout_ms, const std::string& target = kObject) {
    auto start = std::chrono::steady_clock::now();
    Deadline deadline(timeout_ms);
    while (!deadline.expired()) {
        if (x_cache(node, target) == "MISS") {
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                .count();
        }
        ::poll(nullptr, 0, 5);  // a HIT: ask again shortly
    }
    return -1;
}

// The pair, each node with cache zone "z" in front of one origin.
struct CachePair {
    explicit CachePair(const std::string& zone = kCacheZone)
        : pair(server_entry("origin", origin.port()), "", "", "", kCacheListener, zone) {}
    // Both up and in sync, and both hold kObject: one origin fetch each, then hits.
    void require_warm() {
        REQUIRE(origin.port() != 0);
        REQUIRE(pair.ok());
        REQUIRE(pair.synced());
        for (Node* node : {pair.a.get(), pair.b.get()}) {
            CHECK(x_cache(*node) == "MISS");
            CHECK(x_cache(*node) == "HIT");
        }
        CHECK(origin.count("/obj") == 2);
    }
    Origin origin;
    Pair pair;
};

uint64_t purges_received(const Node& node) {
    auto status = node.ha_status();
    return status ? status->peer().purges_received() : 0;
}

TEST_CASE("ha sync: a cache purge on A makes B's next request a MISS within a second") {
    CachePair f;
    INFO("A:\n", f.pair.a->log(), "\nB:\n", f.pair.b->log());
    f.require_warm();

    Run purge = f.pair.a->ctl({"cache", "purge", "z", kObject});
    REQUIRE(purge.exit_code == 0);
    CHECK(contains(purge.output, "purged 1 object"));
    int64_t ms = ms_until_miss(*f.pair.b, kSyncTimeoutMs);
    MESSAGE("B's first MISS after the purge on A: ", ms, " ms");
    CHECK(ms >= 0);
    CHECK(ms < 1000);
    CHECK(f.origin.count("/obj") == 3);  // B's miss went to the origin
    CHECK(x_cache(*f.pair.b) == "HIT");  // and refilled B's zone

    // Counted on both sides; B applied it once and sent nothing back.
    auto status_a = f.pair.a->ha_status();
    REQUIRE(status_a.has_value());
    CHECK(status_a->peer().purges_sent() == 1);
    CHECK(status_a->peer().purges_received() == 0);
    CHECK(purges_received(*f.pair.b) == 1);
    CHECK(f.pair.b->process().wait_for_line("cache purge from the peer: zone z", kIoTimeoutMs));
    // A's zone was purged by the command itself: its next request is a MISS too.
    CHECK(x_cache(*f.pair.a) == "MISS");
    CHECK(f.origin.count("/obj") == 4);
}

// SIGCONT for a node stopped by the test, even if a REQUIRE ends it early.
struct Resume {
    Node& node;
    ~Resume() { node.process().send_signal(SIGCONT); }
};

TEST_CASE("ha sync: a cache purge made while the link is down reaches B once it is back") {
    CachePair f;
    INFO("A:\n", f.pair.a->log(), "\nB:\n", f.pair.b->log());
    f.require_warm();

    // B freezes (its memory, and so its cache, stays): A sees the link die.
    Resume resume{*f.pair.b};
    REQUIRE(f.pair.b->process().send_signal(SIGSTOP));
    Run down = f.pair.a->ctl_until({"--json", "ha", "status"}, [](const Run& run) {
        auto status = parse_json<v1::HaStatusReply>(run.output);
        return status && !status->peer().connected();
    });
    auto status = parse_json<v1::HaStatusReply>(down.output);
    REQUIRE((status && !status->peer().connected()));

    REQUIRE(f.pair.a->ctl({"cache", "purge", "z", "--prefix", "/obj"}).exit_code == 0);
    status = f.pair.a->ha_status();
    REQUIRE(status.has_value());
    CHECK_FALSE(status->peer().connected());  // made while down: queued, not sent
    CHECK(status->peer().queued_changes() >= 1);

    REQUIRE(f.pair.b->process().send_signal(SIGCONT));
    CHECK(ms_until_miss(*f.pair.b, kSyncTimeoutMs) >= 0);
    CHECK(f.origin.count("/obj") == 3);
    CHECK(purges_received(*f.pair.b) == 1);
}

TEST_CASE("ha sync: a purge by tag on A makes B's objects with that tag a MISS, and only those") {
    CachePair f("cache_zones { name: \"z\" tag_header: \"Cache-Tag\" }\n");
    INFO("A:\n", f.pair.a->log(), "\nB:\n", f.pair.b->log());
    f.require_warm();
    const std::string tagged = "/tagged?h=Cache-Control:max-age%3D600&h=Cache-Tag:release-7%20all";
    const std::string other = "/other?h=Cache-Control:max-age%3D600&h=Cache-Tag:release-8";
    for (Node* node : {f.pair.a.get(), f.pair.b.get()}) {
        for (const std::string& target : {tagged, other}) {
            CHECK(x_cache(*node, target) == "MISS");
            CHECK(x_cache(*node, target) == "HIT");
        }
    }

    Run purge = f.pair.a->ctl({"cache", "purge", "z", "--tag", "release-7"});
    REQUIRE(purge.exit_code == 0);
    CHECK(contains(purge.output, "purged 1 object"));
    int64_t ms = ms_until_miss(*f.pair.b, kSyncTimeoutMs, tagged);
    MESSAGE("B's first MISS after the tag purge on A: ", ms, " ms");
    CHECK(ms >= 0);
    CHECK(ms < 1000);
    CHECK(f.origin.count("/tagged") == 3);
    CHECK(x_cache(*f.pair.b, other) == "HIT");  // another tag: kept on B
    CHECK(x_cache(*f.pair.b) == "HIT");         // untagged: kept on B
    CHECK(f.origin.count("/other") == 2);
    CHECK(purges_received(*f.pair.b) == 1);
    CHECK(f.pair.b->process().wait_for_line("cache purge from the peer: zone z, tag release-7, 1 objects removed",
                                            kIoTimeoutMs));
}

}  // namespace
}  // namespace lbd::test
