// How an HTTP/2 client connection shares its sending among its streams (l7/h2_connection.h,
// h2_response_budget.h), end to end with python3-h2: responses go one after another (RFC 9218
// scheduling), the response bytes a connection holds stay within its budget while its client
// reads nothing, a stream waiting its turn behind a long response is not cut by body_idle_ms, and
// a long response lets a newer stream go first.
// And how an idle one parks (h2_connection_park.cc): HPACK, windows and stream ids as the client
// knows them after each wake, and the GOAWAY a parked connection gets at a drain.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/integration/l7_h2_scenario.h"

namespace lbd::test {
namespace {

TEST_CASE("responses of one connection go one after another, not interleaved frame by frame") {
    // lbd sends SETTINGS_NO_RFC7540_PRIORITIES, so nghttp2 schedules DATA by RFC 9218: streams of
    // the same urgency, not incremental (the default), one at a time in the order they had data.
    // Round robin (RFC 7540's default weights) gave each of a connection's streams a frame in
    // turn, so with h2load -m100 and 64 KiB responses all 100 ended together at the end, and a
    // window shorter than one such wave counted no response at all (bench/README.md, h2_burst.sh).
    HttpBackend a("a");
    RunningLbd lbd(h2c_config(a));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    RunResult r = h2_client({"order", std::to_string(lbd.port()), "20", std::to_string(256 * 1024)});
    INFO(r.output);
    CHECK(has(r.output, "complete=20\n"));
    // Round robin: every stream ends in the last of the bytes (16 frames each, a frame of each in
    // turn). One after another, about half have ended when half the bytes came; a stream's turn
    // passes on when its server's next bytes have not come yet, and every stream's first read
    // (up to 16 KiB, ServerRead::kSmall) may go out early, so fewer on a loaded machine.
    const size_t at = r.output.find("ended_by_half=");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoul(r.output.substr(at + 14)) >= 5);
}

TEST_CASE("a client that reads nothing: its connection's streams hold the response budget, not every body") {
    // 20 streams of 512 KiB and a client that reads none of it (its windows stay at 64 KiB):
    // each stream alone could hold 256 KiB (kBodyHighWater), 5 MiB in all; the connection holds
    // its budget (512 KiB) and at most one server read (< 64 KiB) per stream beside it.
    HttpBackend a("a");
    RunningLbd lbd(h2c_config(a));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    const std::string buffered = "lbd_http2_response_buffered_bytes{listener=\"front\"}";
    constexpr size_t kStreams = 20, kSize = 512 * 1024;
    ChildProcess hold({"/usr/bin/python3", kClient, "hold", std::to_string(lbd.port()), std::to_string(kStreams),
                       std::to_string(kSize)});
    REQUIRE(hold.await_line("sent=20", kIoTimeoutMs));
    REQUIRE(poll_until([&] { return metric(admin, buffered) >= 512 * 1024; }));
    // Every stream has had its server's first bytes by now; none may take more.
    CHECK(poll_until([&] { return a.requests() == kStreams; }));
    const double bound = 512 * 1024 + kStreams * 64 * 1024;
    CHECK_MESSAGE(!poll_until([&] { return metric(admin, buffered) > bound; }, 1000), metric(admin, buffered));
    // Read at last: every body whole, and nothing left held.
    hold.send_signal(SIGUSR1);
    CHECK_MESSAGE(hold.await_line("complete=20", 20000), hold.output());
    hold.wait_exit(kIoTimeoutMs);
    CHECK(poll_until([&] { return metric(admin, buffered) == 0; }));
}

TEST_CASE("a stream waiting its turn behind a long response, read slowly, is not cut at body_idle_ms") {
    // 3 MiB then 600 KiB on one connection, read at ~0.8 MB/s: the second stream holds its
    // first 256 KiB (kBodyHighWater), reads no more from its server and moves nothing for the
    // ~4 s the first takes, four times body_idle_ms. That is its turn coming, not its server
    // going quiet (ExchangeDriver::waits_for_busy_client); a server that stops is still cut
    // (l7_timeouts_test).
    HttpBackend a("a");
    RunningLbd lbd(h2c_config(a, "", "    timeouts { body_idle_ms: 1000 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    RunResult r = run({"/usr/bin/python3", H2_SLOW_READ, std::to_string(lbd.port()), std::to_string(3 << 20),
                       std::to_string(600 * 1024)},
                      60000);
    INFO(r.output);
    CHECK(!has(r.output, "reset="));
    CHECK(has(r.output, "complete=2\n"));
}

TEST_CASE("a long response lets a newer stream of its connection go first; a client's priority field is kept") {
    // 12 MiB, then 256 KiB asked once 2 MiB arrived, the client limiting the connection (windows
    // of 64 MiB, read at a pace): one after another (RFC 9218 without a `priority` field), the
    // second would wait for the first's last byte; past kLongResponseBytes the first turns
    // incremental and the second goes from its next frame (H2Stream::share_long_response).
    HttpBackend a("a");
    RunningLbd lbd(h2c_config(a));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    constexpr size_t kBig = 12 << 20;
    auto late = [&](const char* priority) {
        std::vector<std::string> args = {"/usr/bin/python3", H2_LATE_REQUEST, std::to_string(lbd.port()),
                                         std::to_string(kBig), std::to_string(256 * 1024), std::to_string(2 << 20)};
        if (priority != nullptr) args.emplace_back(priority);
        return run(args, 60000);
    };
    auto big_at_small_end = [](const RunResult& r) {
        const size_t at = r.output.find("big_at_small_end=");
        return at == std::string::npos ? 0 : std::strtoull(r.output.c_str() + at + 17, nullptr, 10);
    };
    RunResult shared = late(nullptr);
    INFO(shared.output);
    CHECK(has(shared.output, "complete=2\n"));
    CHECK(big_at_small_end(shared) < kBig / 2);
    // A client that asked for one after another (u=3, not incremental) gets it.
    RunResult asked = late("u=3");
    INFO(asked.output);
    CHECK(has(asked.output, "complete=2\n"));
    CHECK(big_at_small_end(asked) > kBig / 2);
}

TEST_CASE("an idle connection parks and wakes with its HPACK table, windows and stream ids; its idle timeout and a "
          "drain send GOAWAY") {
    HttpBackend a("a");
    RunningLbd lbd(h2c_config(a, "idle_timeout_ms: 3000"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    const std::string port = std::to_string(lbd.port()), admin_arg = std::to_string(admin);

    // 8 cycles: each wakes the parked connection with a head, then the client's HPACK table is
    // filled and referred to (a decoder without the table: COMPRESSION_ERROR), a POST leaves
    // bytes lbd has not given back (kept across parking, 8 x 100,000 would shut the client's
    // 1 MiB connection window), a GET of 70,000 bytes goes past the client's window (lbd's send
    // window after a wake, below 65,535 in the first 4 cycles, above it in the last 4); each time
    // parked again.
    RunResult r = run({"/usr/bin/python3", H2_PARK_CLIENT, "park", port, admin_arg, "8"}, 60000);
    INFO(r.output);
    CHECK(has(r.output, "gets=24\n"));
    CHECK(has(r.output, "posts=8\n"));
    CHECK(has(r.output, "downloads=8\n"));
    CHECK(has(r.output, "parked=8\n"));
    // 3 MiB each way after a wake: both connection windows as the client knows them.
    CHECK(has(r.output, "upload=True\n"));
    CHECK(has(r.output, "download=True\n"));
    CHECK(has(r.output, "parked_after_bodies=True\n"));
    // A late WINDOW_UPDATE and RST_STREAM for the last stream after a wake: a closed stream's,
    // not a protocol error; no GOAWAY in all of it.
    CHECK(has(r.output, "after_late=200\n"));
    CHECK(has(r.output, "goaway=None\n"));
    CHECK(has(r.output, "parked_again=True\n"));
    // A spent stream id after a wake is still spent: nghttp2 ignores the HEADERS (a fresh
    // session would answer them), and the connection goes on.
    CHECK(has(r.output, "after_spent=200 spent_id_events=0 goaway=None\n"));
    CHECK(metric(admin, "lbd_http2_limits_total{listener=\"front\",cause=\"glitches\"}") == 0);

    // The idle timeout (3 s from the last stream's end, parked or not) wakes a parked connection
    // for its GOAWAY, naming its last stream (3), then closes it.
    ChildProcess quiet({"/usr/bin/python3", H2_PARK_CLIENT, "park_drain", port, admin_arg});
    REQUIRE_MESSAGE(quiet.await_line("parked=1", kIoTimeoutMs), quiet.output());
    CHECK_MESSAGE(quiet.await_line("eof=True", 10000), quiet.output());
    CHECK_MESSAGE(has(quiet.output(), "goaway=0 last_stream=3\n"), quiet.output());
    quiet.wait_exit(kIoTimeoutMs);
    CHECK(metric(admin, "lbd_http2_limits_total{listener=\"front\",cause=\"idle_timeout\"}") == 1);

    // So does a drain, at once.
    ChildProcess idle({"/usr/bin/python3", H2_PARK_CLIENT, "park_drain", port, admin_arg});
    REQUIRE_MESSAGE(idle.await_line("parked=1", kIoTimeoutMs), idle.output());
    REQUIRE(lbd->send_signal(SIGTERM));
    CHECK_MESSAGE(idle.await_line("eof=True", kIoTimeoutMs), idle.output());
    CHECK_MESSAGE(has(idle.output(), "goaway=0 last_stream=3\n"), idle.output());
    idle.wait_exit(kIoTimeoutMs);
    // The drain ends lbd on its own; stop()'s SIGTERM, sent while it exits (slow under
    // AddressSanitizer's leak check), would find the default action and kill it (143).
    CHECK(lbd->wait_exit(kIoTimeoutMs * 3) == 0);
}

// A reload replaces the listener: its HTTP/2 connections, open and parked,
// get a graceful GOAWAY (README, "Drain and reload"); the open stream still
// finishes on the old configuration, and lbd goes on.
TEST_CASE("a reload sends GOAWAY to open and parked HTTP/2 connections; open streams finish") {
    HttpBackend a("a");
    const std::string config = h2c_config(a);
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    const std::string port = std::to_string(lbd.port()), admin_arg = std::to_string(admin);

    ChildProcess open({"/usr/bin/python3", H2_PARK_CLIENT, "open_goaway", port});
    REQUIRE_MESSAGE(open.await_line("open=1", kIoTimeoutMs), open.output());
    // The stream has reached the server (its head, the body still coming).
    REQUIRE(poll_until([&] {
        for (const std::string& head : a.heads())
            if (has(head, "POST /open-goaway ")) return true;
        return false;
    }));
    ChildProcess parked({"/usr/bin/python3", H2_PARK_CLIENT, "park_drain", port, admin_arg});
    REQUIRE_MESSAGE(parked.await_line("parked=1", kIoTimeoutMs), parked.output());

    REQUIRE(reload_lbd(lbd, config, "reload applied", 1));
    CHECK_MESSAGE(open.await_line("eof=", kIoTimeoutMs), open.output());
    CHECK_MESSAGE(has(open.output(), "goaway=0 last_stream=1\n"), open.output());
    CHECK_MESSAGE(has(open.output(), "status=200 reset=None\n"), open.output());
    CHECK_MESSAGE(has(open.output(), "body_bytes=10"), open.output());
    CHECK_MESSAGE(has(open.output(), "eof=True\n"), open.output());
    CHECK_MESSAGE(parked.await_line("eof=True", kIoTimeoutMs), parked.output());
    CHECK_MESSAGE(has(parked.output(), "goaway=0 last_stream=3\n"), parked.output());
    open.wait_exit(kIoTimeoutMs);
    parked.wait_exit(kIoTimeoutMs);
    // A new connection is served on the new configuration.
    RunResult after = h2_client({"translate", port});
    CHECK_MESSAGE(has(after.output, "status=200"), after.output);
}

}  // namespace
}  // namespace lbd::test
