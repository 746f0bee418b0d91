// Reload scenarios against the real lbd: a client loop running through
// reloads sees no error, an invalid config changes nothing, open connections
// finish on the config they started with, and server health and stick tables
// carry over.
//
// Each scenario rewrites lbd's config file and sends SIGHUP, then waits for
// lbd's own verdict in its log ("reload applied" / "reload rejected").
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

// lbd's config with a "front" listener on 127.0.0.1:0 and pool p.
std::string reload_config(const std::string& pool_body, const std::string& more_listeners = "") {
    return "global { workers: 2 drain_timeout_ms: 2000 }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" pool: \"p\" }\n" +
           more_listeners + "pools { name: \"p\"\n" + pool_body + "}\n";
}

std::string server(const std::string& name, uint16_t port, const std::string& extra = "") {
    return "  servers { name: \"" + name + "\" address: \"127.0.0.1:" + std::to_string(port) + "\" " + extra + "}\n";
}

// Connects, reads the NamedServer greeting ("NAME\n"), closes.
std::optional<std::string> greeting(uint16_t port) {
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    if (!fd) return std::nullopt;
    return recv_line(fd.get(), kIoTimeoutMs);
}

TEST_CASE("a client loop running through valid and invalid reloads sees no error") {
    NamedServer a("a"), b("b");
    RunningLbd lbd(reload_config(server("a", a.port()) + server("b", b.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    std::atomic<bool> done{false};
    std::atomic<int> ok{0}, failed{0};
    std::thread client([&] {
        while (!done.load()) {
            auto line = greeting(lbd.port());
            (line && (*line == "a\n" || *line == "b\n") ? ok : failed).fetch_add(1);
        }
    });
    // Five reloads that change weights back and forth while the loop runs,
    // each followed by one that is rejected (a syntax error, then a config
    // that parses but refers to no pool).
    for (int i = 1; i <= 5; ++i) {
        std::string weight = "weight: " + std::to_string(i % 2 + 1) + " ";
        CHECK(reload_lbd(lbd, reload_config(server("a", a.port(), weight) + server("b", b.port())), "reload applied",
                     static_cast<size_t>(i)));
        std::string invalid = i % 2 ? "pools { name: \"p\" servers {" :
                                      "listeners { name: \"front\" bind: \"127.0.0.1:0\" pool: \"gone\" }\n";
        CHECK(reload_lbd(lbd, invalid, "reload rejected", static_cast<size_t>(i)));
    }
    // Let the loop make some more connections on the last config.
    int before = ok.load();
    for (int spins = 0; ok.load() < before + 20 && spins < 100000; ++spins) std::this_thread::yield();
    done = true;
    client.join();
    CHECK(failed.load() == 0);
    CHECK(ok.load() > 20);
    CHECK(lbd->count("listener front kept") == 5);
}

TEST_CASE("an invalid config is rejected with file:line and lbd keeps serving the old one") {
    NamedServer a("a");
    RunningLbd lbd(reload_config(server("a", a.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    CHECK(reload_lbd(lbd, "pools { name: broken", "reload rejected", 1));
    auto rejected = lbd->await_line("reload rejected", kIoTimeoutMs);
    REQUIRE(rejected);
    CHECK(rejected->find(lbd->config_path() + ":1:") != std::string::npos);
    CHECK(greeting(lbd.port()) == "a\n");

    // A config that parses but names a pool that does not exist: same.
    CHECK(reload_lbd(lbd, reload_config(server("a", a.port())) + "listeners { name: \"x\" bind: \"127.0.0.1:0\" pool: \"nope\" }\n",
                 "reload rejected", 2));
    CHECK(greeting(lbd.port()) == "a\n");
}

TEST_CASE("open connections finish on their config; a removed listener takes no new ones") {
    EchoServer echo;
    NamedServer other("other");
    std::string second = "listeners { name: \"second\" bind: \"127.0.0.1:0\" pool: \"p\" }\n";
    RunningLbd lbd(reload_config(server("echo", echo.port()), second));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t second_port = lbd->listener_port("second");
    REQUIRE(second_port != 0);

    UniqueFd held = connect_tcp(second_port, kIoTimeoutMs);
    REQUIRE(held);
    REQUIRE(echoes(held.get(), "before reload"));

    // The new config drops listener "second" and replaces the echo server.
    REQUIRE(reload_lbd(lbd, reload_config(server("other", other.port())), "reload applied", 1));
    CHECK(echoes(held.get(), "after reload: still the old server"));
    CHECK(greeting(lbd.port()) == "other\n");
    UniqueFd refused = connect_tcp(second_port, 1000);
    CHECK_FALSE(refused);
}

TEST_CASE("health and stick entries carry over a reload") {
    NamedServer a("a"), b("b"), c("c");
    // Checks every 60 s: after the first round, only a carried-over state can
    // tell the new config that a server is down.
    std::string checks = "  health_check { interval_ms: 60000 timeout_ms: 500 rise: 1 fall: 1 }\n"
                         "  stickiness {}\n";
    std::string pool = server("a", a.port()) + server("b", b.port()) + server("c", c.port()) + checks;
    RunningLbd lbd(reload_config(pool));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    auto first = greeting(lbd.port());
    REQUIRE(first);
    std::string stuck = first->substr(0, first->size() - 1);
    // Kill a server the client is not stuck to. The checks will not see it
    // for a minute; passive ejection does, as soon as some client is sent
    // there (clients from other addresses of 127/8 spread over the pool).
    NamedServer* victim = stuck == "a" ? &b : &a;
    std::string victim_name = stuck == "a" ? "b" : "a";
    victim->kill();
    std::string with_passive = pool + "  passive_health { max_fails: 1 fail_timeout_ms: 60000 }\n";
    REQUIRE(reload_lbd(lbd, reload_config(with_passive), "reload applied", 1));
    // Clients from other addresses eventually try the victim and eject it.
    for (int i = 2; i < 60 && lbd->count("p/" + victim_name + " is DOWN") == 0; ++i) {
        UniqueFd fd = connect_from("127.0.0." + std::to_string(i), lbd.port(), kIoTimeoutMs);
        if (fd) recv_line(fd.get(), kIoTimeoutMs);
    }
    REQUIRE(lbd->count("p/" + victim_name + " is DOWN") == 1);

    // Reload again with a change elsewhere: the victim stays DOWN (no check
    // will run for 60 s), the client stays on its server.
    REQUIRE(reload_lbd(lbd, reload_config(with_passive + "  connect_timeout_ms: 2500\n"), "reload applied", 2));
    for (int i = 0; i < 10; ++i) CHECK(greeting(lbd.port()) == stuck + "\n");
    for (int i = 2; i < 40; ++i) {
        UniqueFd fd = connect_from("127.0.0." + std::to_string(i), lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        auto line = recv_line(fd.get(), kIoTimeoutMs);
        CHECK(line);
        if (line) CHECK(*line != victim_name + "\n");
    }
    // Carried over, not rediscovered: a fresh server object would have
    // started UP and been ejected a second time.
    CHECK(lbd->count("p/" + victim_name + " is UP") == 0);
    CHECK(lbd->count("p/" + victim_name + " is DOWN") == 1);
}

TEST_CASE("a listener added by reload serves at once") {
    NamedServer a("a");
    RunningLbd lbd(reload_config(server("a", a.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    std::string added = "listeners { name: \"added\" bind: \"127.0.0.1:0\" pool: \"p\" }\n";
    REQUIRE(reload_lbd(lbd, reload_config(server("a", a.port()), added), "reload applied", 1));
    uint16_t port = lbd->listener_port("added");
    REQUIRE(port != 0);
    CHECK(greeting(port) == "a\n");
}

// A reload is one transaction across tiers: every tier prepares (opens its
// new sockets, builds its TLS contexts) before any switches, and the running
// servers take new settings only then. Here the new TCP listener could bind,
// but the new HTTP listener's port is held by another socket: nothing may
// change, in either tier, nor in the servers.
TEST_CASE("a reload whose HTTP part fails leaves every tier on the old config") {
    NamedServer a("a");
    RunningLbd lbd(reload_config(server("a", a.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t tcp_port = pick_free_port();
    UniqueFd holder = listen_tcp();  // not lbd's: the HTTP listener cannot take it
    REQUIRE(holder);
    const uint16_t taken_port = local_port(holder.get());
    std::string added = "listeners { name: \"added_tcp\" bind: \"127.0.0.1:" + std::to_string(tcp_port) +
                        "\" pool: \"p\" }\n"
                        "listeners { name: \"added_http\" bind: \"127.0.0.1:" + std::to_string(taken_port) +
                        "\" mode: MODE_HTTP pool: \"p\" }\n";
    // The refused file also drains the only server: that must not reach the running one either.
    REQUIRE(reload_lbd(lbd, reload_config(server("a", a.port(), "admin_state: ADMIN_STATE_DRAIN "), added),
                       "reload rejected", 1));
    CHECK(lbd->count("listener added_tcp") == 0);  // neither bound nor kept
    CHECK(lbd->count("config reloaded") == 0);     // no kept server took the refused settings
    // The refusal names the bind that failed where it is written: line 4 (global, front, added_tcp, added_http).
    CHECK(lbd->count(lbd->config_path() + ":4:") == 1);
    CHECK_FALSE(connect_tcp(tcp_port, 200));       // the TCP tier did not switch
    CHECK(greeting(lbd.port()) == "a\n");          // and still serves the old config

    // Once the port is free, the same file applies to both tiers.
    holder.reset();
    REQUIRE(reload_lbd(lbd, reload_config(server("a", a.port()), added), "reload applied", 1));
    CHECK(greeting(tcp_port) == "a\n");
}

}  // namespace
}  // namespace lbd::test
