// L4 scenarios against the real lbd: byte-exact forwarding, half-close, balancing, a backend
// dying mid-run, a pool with no server, timeouts, and draining on SIGTERM.
//
// Every scenario starts its own lbd on 127.0.0.1:0 with in-process backends, and checks both
// what the client sees and the l4 log line lbd writes for the connection. On a failed check
// doctest prints lbd's whole log (the INFO(lbd->log()) lines are evaluated only then).
#include <doctest/doctest.h>

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

constexpr size_t k64MiB = size_t{64} << 20;

TEST_CASE("64 MiB sent through lbd come back from an echo server byte-exact") {
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("echo", echo.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    const std::string payload = random_payload(k64MiB, 1);
    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());

    ExchangeResult r = exchange(client.get(), payload, 8000);
    CHECK_FALSE(r.send_failed);
    CHECK(std::string(to_string(r.end)) == "eof");
    CHECK(r.bytes_received == payload.size());
    CHECK(r.received_hash == fnv1a64(payload));
    client.reset();

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "server") == "p/echo");
    CHECK(field(*line, "up") == std::to_string(k64MiB));
    CHECK(field(*line, "down") == std::to_string(k64MiB));
    CHECK(field(*line, "end") == "closed");
}

TEST_CASE("a 64 MiB download from the server arrives byte-exact") {
    auto payload = std::make_shared<const std::string>(random_payload(k64MiB, 2));
    SourceServer source(payload);
    REQUIRE(source.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("source", source.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    // The client never writes nor half-closes: the server's FIN alone must end the download.
    RecvResult r = recv_until_eof(client.get(), 8000, k64MiB + 1);
    CHECK(std::string(to_string(r.end)) == "eof");
    CHECK(r.data.size() == k64MiB);
    CHECK(fnv1a64(r.data) == fnv1a64(*payload));
    client.reset();

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "up") == "0");
    CHECK(field(*line, "down") == std::to_string(k64MiB));
    CHECK(field(*line, "end") == "closed");
}

// Regression: a server that answers and closes at once delivers its bytes and
// its FIN before lbd's next wakeup. With edge-triggered events that is one
// edge for both; a short read must not be taken as "socket drained" then, or
// the FIN is never read and the connection hangs. Many tiny exchanges make
// the timing happen.
TEST_CASE("a server that answers and closes at once: every client gets the answer and EOF") {
    auto payload = std::make_shared<const std::string>("hi\n");
    SourceServer source(payload);
    REQUIRE(source.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("source", source.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    int complete = 0;
    for (int i = 0; i < 300; ++i) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        shutdown_write(client.get());  // the client has nothing to say: FIN at once
        RecvResult r = recv_until_eof(client.get(), 2000);
        if (r.end == StreamEnd::kEof && r.data == *payload) ++complete;
    }
    CHECK(complete == 300);
    CHECK(lbd->await_count("end=closed", 300, kIoTimeoutMs));
}

TEST_CASE("half-close: after the client's FIN the server's echo still arrives in full, then EOF") {
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("echo", echo.port())));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    // 4 MiB, so the FIN reaches lbd while most of the echo is still to come back: lbd must pass
    // the half-close on and keep forwarding the other direction.
    const std::string payload = random_payload(4 << 20, 3);
    REQUIRE(send_all(client.get(), payload, kIoTimeoutMs));
    REQUIRE(shutdown_write(client.get()));

    RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs, payload.size() + 1);
    CHECK(std::string(to_string(r.end)) == "eof");
    CHECK(r.data.size() == payload.size());
    CHECK(fnv1a64(r.data) == fnv1a64(payload));
}

TEST_CASE("round_robin spreads 30 connections 10/10/10 over three servers") {
    NamedServer a("a"), b("b"), c("c");
    REQUIRE((a.port() && b.port() && c.port()));
    // One worker: each worker balances on its own (no shared state between workers), so an exact
    // spread can only be asked of a single one.
    RunningLbd lbd(single_pool_config(server_entry("a", a.port()) + server_entry("b", b.port()) +
                                          server_entry("c", c.port()),
                                      "", "workers: 1 drain_timeout_ms: 2000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    std::map<std::string, int> hits;
    for (int i = 0; i < 30; ++i) {
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        std::optional<std::string> greeting = recv_line(client.get(), kIoTimeoutMs);
        REQUIRE(greeting);
        ++hits[*greeting];
    }
    CHECK(hits["a\n"] == 10);
    CHECK(hits["b\n"] == 10);
    CHECK(hits["c\n"] == 10);
}

// A client connection through lbd together with the server it reached.
struct HeldConnection {
    UniqueFd fd;
    std::string server;  // "a" or "b"
};

TEST_CASE("a backend killed mid-run: its connections end, the other's go on, new ones avoid it") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    RunningLbd lbd(single_pool_config(server_entry("a", a.port()) + server_entry("b", b.port()) +
                                      "  health_check { interval_ms: 200 timeout_ms: 150 rise: 1 fall: 1 }\n"
                                      "  passive_health { max_fails: 1 fail_timeout_ms: 5000 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Ten long-lived connections. With two workers each balancing on its own, any split still
    // reaches both servers (a worker with two connections alternates).
    std::vector<HeldConnection> held;
    for (int i = 0; i < 10; ++i) {
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        std::optional<std::string> greeting = recv_line(fd.get(), kIoTimeoutMs);
        REQUIRE(greeting);
        held.push_back({std::move(fd), greeting->substr(0, greeting->size() - 1)});
        REQUIRE(echoes(held.back().fd.get(), "hello " + std::to_string(i) + "\n"));
    }
    size_t on_a = 0;
    for (const auto& h : held) on_a += h.server == "a" ? 1 : 0;
    REQUIRE(on_a > 0);
    REQUIRE(on_a < held.size());

    a.kill();  // RST on every connection a had, and its port refuses from now on

    for (auto& h : held) {
        CAPTURE(h.server);
        if (h.server == "a") {
            // lbd must end the client side too, promptly, and pass nothing made up.
            RecvResult r = recv_until_eof(h.fd.get(), kIoTimeoutMs);
            CHECK(std::string(to_string(r.end)) != "timeout");
            CHECK(r.data.empty());
        } else {
            CHECK(echoes(h.fd.get(), "still here\n"));
        }
    }
    CHECK(lbd->await_count(LinePattern::regex(" server=p/a .* end=server_reset"), on_a, kIoTimeoutMs));
    REQUIRE(lbd->wait_for_line("server p/a is DOWN", kIoTimeoutMs));

    for (int i = 0; i < 6; ++i) {
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        CHECK(recv_line(fd.get(), kIoTimeoutMs).value_or("<none>") == "b\n");
    }
}

TEST_CASE("with every server DOWN a connection is closed at once, with no data") {
    // Ports nobody listens on: the first check of each fails (fall 1) and takes it DOWN.
    RunningLbd lbd(single_pool_config(server_entry("a", pick_free_port()) + server_entry("b", pick_free_port()) +
                                      fast_health_check()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    REQUIRE(lbd->wait_for_line("server p/a is DOWN", kIoTimeoutMs));
    REQUIRE(lbd->wait_for_line("server p/b is DOWN", kIoTimeoutMs));

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    uint64_t start = monotonic_ms();
    RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(r.data.empty());
    CHECK(monotonic_ms() - start < 1000);  // "at once": not after a connect timeout or retries

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "server") == "-");
    CHECK(field(*line, "end") == "no_server");
}

// A pool with no more servers than `retries` (2 by default), all refusing
// connects while still UP (no health checks): every one is tried, and the
// end says so, not queue_full as if they were merely busy.
TEST_CASE("every server refusing the connect ends with end=connect_failed, however few they are") {
    for (const std::string& servers : {server_entry("a", pick_free_port()),
                                      server_entry("a", pick_free_port()) + server_entry("b", pick_free_port())}) {
        RunningLbd lbd(single_pool_config(servers));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(client);
        const uint16_t client_port = local_port(client.get());
        RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
        CHECK(r.data.empty());
        std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
        REQUIRE(line);
        CHECK(field(*line, "end") == "connect_failed");
    }
}

TEST_CASE("a connection idle past idle_timeout_ms is closed with end=idle_timeout") {
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("echo", echo.port()), "  idle_timeout_ms: 300\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    REQUIRE(echoes(client.get(), "ping\n"));
    uint64_t start = monotonic_ms();
    RecvResult r = recv_until_eof(client.get(), kIoTimeoutMs);
    uint64_t idle = monotonic_ms() - start;
    CHECK(std::string(to_string(r.end)) != "timeout");
    CHECK(idle >= 250);  // a little slack for timer granularity

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "end") == "idle_timeout");
}

TEST_CASE("SIGTERM: lbd stops accepting, an open connection keeps working, lbd exits 0 when it closes") {
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    // A drain timeout far above the test's waits: an exit must come from the connection closing.
    RunningLbd lbd(single_pool_config(server_entry("echo", echo.port()), "", "workers: 2 drain_timeout_ms: 20000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    REQUIRE(echoes(client.get(), "before\n"));

    REQUIRE(lbd->send_signal(SIGTERM));
    REQUIRE(lbd->wait_for_line("draining 1 connections", kIoTimeoutMs));
    CHECK(echoes(client.get(), "during the drain\n"));

    // A newcomer is not served: refused now, or (if it sat in a closed accept queue) dropped.
    UniqueFd late = connect_tcp(lbd.port(), kIoTimeoutMs);

    CHECK_FALSE(lbd->wait_exit(0).has_value());  // still running for the open connection
    REQUIRE(shutdown_write(client.get()));
    CHECK(std::string(to_string(recv_until_eof(client.get(), kIoTimeoutMs).end)) == "eof");
    client.reset();

    std::optional<int> status = lbd->wait_exit(5000);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    std::vector<std::string> lines = lbd->lines();
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.back().find("lbd stopped") != std::string::npos);

    if (late) {
        RecvResult r = recv_until_eof(late.get(), kIoTimeoutMs);
        CHECK(r.data.empty());
        CHECK(std::string(to_string(r.end)) != "timeout");
    }
}

TEST_CASE("SIGTERM: a connection still open at drain_timeout_ms is closed and lbd exits 0") {
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    RunningLbd lbd(single_pool_config(server_entry("echo", echo.port()), "", "workers: 2 drain_timeout_ms: 500"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    uint16_t client_port = local_port(client.get());
    REQUIRE(echoes(client.get(), "hello\n"));

    REQUIRE(lbd->send_signal(SIGTERM));
    std::optional<int> status = lbd->wait_exit(5000);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK(std::string(to_string(recv_until_eof(client.get(), kIoTimeoutMs).end)) != "timeout");

    std::optional<std::string> line = lbd->await_line(l4_line_of(client_port), 0);
    REQUIRE(line);
    CHECK(field(*line, "end") == "drain_timeout");
}

}  // namespace
}  // namespace lbd::test
