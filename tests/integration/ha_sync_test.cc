// Two real lbd nodes of an HA pair on loopback, without keepalived: the peer
// sync of server health and stick tables, the refusal of a wrong peer, the
// track file, the role from the notify FIFO, and `lbctl ha`.
//
// Node A syncs on 127.0.0.1, node B on 127.0.0.2 (all of 127/8 is local).
// The VIP (127.0.0.10) is never on an interface here, so keepalived's MASTER
// line leaves a node in MASTER_PENDING: the VIP and failover themselves are
// the netns test's (tests/ha/). Backends greet with their name ("a\n"); the HTTP ones answer
// "server=a\n..." (tests/support/http_backend.h).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lbd/v1/admin.pb.h"
#include "tests/integration/ha_pair.h"
#include "tests/integration/lbctl_run.h"
#include "tests/integration/scenario.h"
#include "tests/support/http_backend.h"

namespace lbd::test {
namespace {

std::string pool_of(const NamedServer& a, const NamedServer& b, const NamedServer& c) {
    return server_entry("a", a.port()) + server_entry("b", b.port()) + server_entry("c", c.port()) +
           "  stickiness { ttl_ms: 600000 }\n";
}

TEST_CASE("ha sync: the peers connect, say so, and mark themselves ready in the track file") {
    NamedServer a("a"), b("b"), c("c");
    Pair pair(pool_of(a, b, c));
    REQUIRE(pair.ok());
    INFO("A:\n", pair.a->log(), "\nB:\n", pair.b->log());
    REQUIRE(pair.synced());

    auto status = pair.a->ha_status();
    REQUIRE(status.has_value());
    CHECK(status->enabled());
    CHECK(status->node_id() == "lb-a");
    CHECK(status->peer().node_id() == "lb-b");
    CHECK(status->peer().auth_failures() == 0);
    // Written -253 (not ready) at start, then 0 once in sync.
    CHECK(pair.a->process().wait_for_line(" = -253 (starting", kIoTimeoutMs));
    CHECK(pair.a->process().wait_for_line(" = 0 (in sync with the peer)", kSyncTimeoutMs));
    CHECK(read_file(pair.a->track_file()) == "0\n");

    Run human = pair.b->ctl({"ha", "status"});
    CHECK(human.exit_code == 0);
    CHECK(contains(human.output, "lb-a at 127.0.0.1:"));
    CHECK(contains(human.output, "connected, synced"));

    // Stopping, lbd first sends keepalived to FAULT, so the VIP leaves before the drain.
    REQUIRE(pair.a->process().send_signal(SIGTERM));
    CHECK(pair.a->process().wait_exit(kIoTimeoutMs) == 0);
    CHECK(read_file(pair.a->track_file()) == "-254\n");
}

TEST_CASE("ha sync: 30 clients stuck on A reach the same servers through B") {
    NamedServer a("a"), b("b"), c("c");
    Pair pair(pool_of(a, b, c));
    REQUIRE(pair.ok());
    INFO("A:\n", pair.a->log(), "\nB:\n", pair.b->log());
    REQUIRE(pair.synced());

    std::map<std::string, std::string> via_a;
    for (int i = 0; i < 30; ++i) {
        std::string ip = "127.0.1." + std::to_string(10 + i);
        via_a[ip] = visit_from(ip, pair.a->port());
        REQUIRE(via_a[ip] != "<none>");
    }
    // Round robin spread them: without the sync, B would place them anew.
    std::set<std::string> used;
    for (const auto& [ip, server] : via_a) used.insert(server);
    CHECK(used.size() == 3);

    auto on_b = pair.b->await_sticks(30);
    CHECK(on_b.size() == 30);
    int same = 0;
    for (const auto& [ip, server] : via_a) same += visit_from(ip, pair.b->port()) == server ? 1 : 0;
    CHECK(same == 30);
    auto status = pair.a->ha_status();
    REQUIRE(status.has_value());
    MESSAGE("sync lag on A: p50 ", status->peer().lag_p50_ms(), " ms, p99 ", status->peer().lag_p99_ms(), " ms");
    CHECK(status->peer().lag_p99_ms() < 1000);

    // A flush on one node empties the peer's table too.
    CHECK(contains(pair.a->ctl({"stick", "flush", "p"}).output, "removed 30"));
    pair.b->ctl_until({"--json", "stick", "show", "p"}, [](const Run& run) {
        auto reply = parse_json<v1::StickShowReply>(run.output);
        return reply && reply->entries_size() == 0;
    });
    CHECK(pair.b->await_sticks(0).empty());
}

TEST_CASE("ha sync: a session cookie learned on A reaches B, and its client lands on the same server via B") {
    HttpBackend a("a"), b("b"), c("c");
    const std::string pool = server_entry("a", a.port()) + server_entry("b", b.port()) + server_entry("c", c.port()) +
                             "  stickiness { ttl_ms: 600000 cookie { name: \"JSESSIONID\" mode: LEARN } }\n";
    Pair pair(pool, "", "", "", "  mode: MODE_HTTP\n");
    REQUIRE(pair.ok());
    INFO("A:\n", pair.a->log(), "\nB:\n", pair.b->log());
    REQUIRE(pair.synced());

    // Logins through A: the application sets a session cookie, A learns it.
    std::map<std::string, std::string> server_of_session;
    for (int i = 0; i < 3; ++i) {
        auto login = http_request(pair.a->port(), get_request("/login"), kIoTimeoutMs);
        REQUIRE(login);
        std::string set = login->header("set-cookie");  // "JSESSIONID=a-1; Path=/"
        REQUIRE(set.rfind("JSESSIONID=", 0) == 0);
        std::string session = set.substr(11, set.find(';') - 11);
        server_of_session[session] = login->body.substr(7, login->body.find('\n') - 7);
    }
    REQUIRE(server_of_session.size() == 3);

    auto on_b = pair.b->await_sticks(3);
    for (const auto& [session, server] : server_of_session) CHECK(on_b[session] == server);
    // Through B (round robin would spread them): each session on its own server.
    for (const auto& [session, server] : server_of_session) {
        for (int i = 0; i < 6; ++i) {
            auto reply = http_request(pair.b->port(), get_request("/", "example.com", "Cookie: JSESSIONID=" + session + "\r\n"),
                                      kIoTimeoutMs);
            REQUIRE(reply);
            CHECK(reply->body.rfind("server=" + server + "\n", 0) == 0);
        }
    }
}

TEST_CASE("ha sync: a server A finds dead is DOWN on B, whose own checks have not run again") {
    NamedServer a("a"), b("b");
    auto c = std::make_unique<NamedServer>("c");
    // A checks every 100 ms; B's next check is a minute away.
    Pair pair(pool_of(a, b, *c), "  health_check { interval_ms: 100 timeout_ms: 100 rise: 1 fall: 1 }\n",
              "  health_check { interval_ms: 60000 timeout_ms: 1000 rise: 1 fall: 1 }\n");
    REQUIRE(pair.ok());
    INFO("A:\n", pair.a->log(), "\nB:\n", pair.b->log());
    REQUIRE(pair.synced());
    CHECK(pair.b->await_state("c", "UP") == "UP");

    c.reset();  // the backend dies
    CHECK(pair.a->await_state("c", "DOWN") == "DOWN");
    CHECK(pair.b->await_state("c", "DOWN") == "DOWN");
    CHECK(pair.b->process().wait_for_line("server p/c is DOWN (synced from lb-a", kIoTimeoutMs));

    // Operator states travel too, both ways, and no change echoes back.
    CHECK(pair.b->ctl({"server", "drain", "p/a"}).exit_code == 0);
    CHECK(pair.a->await_state("a", "DRAIN") == "DRAIN");
    CHECK(pair.a->ctl({"server", "enable", "p/a"}).exit_code == 0);
    CHECK(pair.b->await_state("a", "UP") == "UP");
    CHECK(pair.a->ctl({"server", "weight", "p/b", "7"}).exit_code == 0);
    uint32_t weight_on_b = 0;
    pair.b->ctl_until({"--json", "servers"}, [&](const Run& run) {
        auto reply = parse_json<v1::ServersReply>(run.output);
        if (!reply) return false;
        for (const auto& s : reply->servers())
            if (s.name() == "b") weight_on_b = s.weight();
        return weight_on_b == 7;
    });
    CHECK(weight_on_b == 7);
    CHECK(pair.a->process().count(LinePattern("server p/a is DRAIN (synced from lb-b")) == 1);
    CHECK(pair.b->process().count(LinePattern("server p/a is UP (synced from lb-a")) == 1);
}

TEST_CASE("ha status: a peer never heard is 'never heard', and its age is absent from the JSON") {
    NamedServer a("a"), b("b"), c("c");
    TempFile key(std::string(48, 'k'), ".key");
    // The peer's port is free and stays so: nobody answers there.
    Node alone(NodeSpec{"lb-a", "127.0.0.1", "127.0.0.2", key.path(), "", "", ""}, pick_free_port(), pick_free_port(),
               pool_of(a, b, c));
    REQUIRE(alone.ok());
    INFO(alone.log());

    Run human = alone.ctl({"ha", "status"});
    CHECK(human.exit_code == 0);
    CHECK(contains(human.output, "not connected, never heard"));
    Run json = alone.ctl({"--json", "ha", "status"});
    CHECK(json.exit_code == 0);
    CHECK(contains(json.output, "\"connected\": false"));
    CHECK_FALSE(contains(json.output, "last_heard_ms_ago"));
    CHECK_FALSE(contains(json.output, "18446744073709551615"));
}

TEST_CASE("ha sync: a peer with the wrong key is refused and nothing crosses") {
    NamedServer a("a"), b("b"), c("c");
    Pair pair(pool_of(a, b, c), "", "", std::string(48, 'x'));
    REQUIRE(pair.ok());
    INFO("A:\n", pair.a->log(), "\nB:\n", pair.b->log());

    // Whichever side receives the other's first frame logs the failure.
    bool logged = false;
    Deadline deadline(kSyncTimeoutMs);
    while (!logged && !deadline.expired()) {
        logged = pair.a->process().count(LinePattern("authentication")) > 0 ||
                 pair.b->process().count(LinePattern("authentication")) > 0;
        if (!logged) ::poll(nullptr, 0, 50);
    }
    CHECK(logged);
    auto status_a = pair.a->ha_status();
    auto status_b = pair.b->ha_status();
    REQUIRE((status_a && status_b));
    CHECK(status_a->peer().auth_failures() + status_b->peer().auth_failures() > 0);
    CHECK_FALSE(status_a->peer().connected());
    CHECK_FALSE(status_b->peer().synced());

    for (int i = 0; i < 5; ++i) CHECK(visit_from("127.0.1." + std::to_string(50 + i), pair.a->port()) != "<none>");
    CHECK(pair.a->await_sticks(5).size() == 5);
    CHECK(pair.b->ctl({"--json", "stick", "show", "p"}).output.find("127.0.1.5") == std::string::npos);
    // Alone, each node calls itself ready after the grace period.
    CHECK(pair.b->process().wait_for_line("serving alone", kSyncTimeoutMs));
}

TEST_CASE("ha role: keepalived's FIFO lines drive the role; without the VIP, MASTER waits") {
    NamedServer a("a"), b("b"), c("c");
    Pair pair(pool_of(a, b, c));
    REQUIRE(pair.ok());
    INFO("A:\n", pair.a->log());

    auto role_is = [&](const std::string& role) {
        Run run = pair.a->ctl_until({"--json", "ha", "status"}, [&](const Run& r) {
            auto status = parse_json<v1::HaStatusReply>(r.output);
            return status && status->role() == role;
        });
        auto status = parse_json<v1::HaStatusReply>(run.output);
        return status && status->role() == role;
    };
    CHECK(role_is("STARTING"));
    REQUIRE(pair.a->notify("INSTANCE \"VI_51\" BACKUP 100"));
    CHECK(role_is("BACKUP"));
    CHECK(pair.a->process().wait_for_line("ha role STARTING -> BACKUP", kIoTimeoutMs));
    REQUIRE(pair.a->notify("INSTANCE \"VI_99\" MASTER 100"));  // another instance: ignored
    REQUIRE(pair.a->notify("INSTANCE \"VI_51\" MASTER 100"));
    CHECK(role_is("MASTER_PENDING"));
    CHECK(pair.a->process().count(LinePattern("-> MASTER (")) == 0);

    // Only a MASTER hands over.
    Run failover = pair.a->ctl({"ha", "failover"});
    CHECK(failover.exit_code == 1);
    CHECK(contains(failover.output, "not MASTER"));
    CHECK(pair.a->ctl({"status"}).output.find("MASTER_PENDING") != std::string::npos);

    REQUIRE(pair.a->notify("INSTANCE \"VI_51\" FAULT 100"));
    CHECK(role_is("FAULT"));

    Run keepalived = pair.a->ctl({"ha", "keepalived-config"});
    CHECK(keepalived.exit_code == 0);
    CHECK(contains(keepalived.output, "vrrp_instance VI_51"));
    CHECK(contains(keepalived.output, pair.a->fifo()));
}

}  // namespace
}  // namespace lbd::test
