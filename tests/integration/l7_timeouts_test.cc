// The idle timers of an exchange (l7/phase_timer.h): a body that stops, in either direction, is
// cut after its idle period, and one that keeps moving, however slowly, is not. The same for a
// WebSocket tunnel and the listener's idle_timeout_ms. The slow senders pace their bytes with
// sleeps: that is the scenario's input, not synchronisation; every wait for lbd is a read.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Sends `count` pieces of `piece` with `gap_ms` between them; whether all went out.
bool trickle(int fd, const std::string& piece, int count, int gap_ms) {
    for (int i = 0; i < count; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
        if (!send_all(fd, piece, kIoTimeoutMs)) return false;
    }
    return true;
}

TEST_CASE("a request body that stops: 408 after body_idle_ms") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    timeouts { body_idle_ms: 400 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    const Clock::time_point start = Clock::now();
    REQUIRE(send_all(fd.get(), "POST /stops HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
                     kIoTimeoutMs));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 408);
    CHECK(ms_since(start) >= 400);
    auto line = lbd->await_line(http_line_for("/stops"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "body_timeout");
}

TEST_CASE("a request body that trickles, one byte per 150 ms for 3 s, is not cut at body_idle_ms 1000") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    timeouts { body_idle_ms: 1000 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n", kIoTimeoutMs));
    REQUIRE(trickle(fd.get(), "x", 20, 150));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(has(reply->body, "body_bytes=20\n"));
}

TEST_CASE("a response body that stops mid-way: the client connection is cut after body_idle_ms") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    timeouts { body_idle_ms: 400 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    const Clock::time_point start = Clock::now();
    REQUIRE(send_all(fd.get(), get_request("/stall"), kIoTimeoutMs));
    RecvResult got = recv_until_eof(fd.get(), kIoTimeoutMs);
    INFO(got.data);
    CHECK(got.end != StreamEnd::kTimeout);  // cut, not left hanging
    CHECK(ms_since(start) >= 400);
    CHECK(got.data.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(has(got.data, "\r\n\r\n0123456789"));  // what the server sent got through first
    auto line = lbd->await_line(http_line_for("/stall"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "body_timeout");
}

TEST_CASE("a WebSocket tunnel lives while frames move and is closed after idle_timeout_ms of silence") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "", "  pool: \"web\"\n  idle_timeout_ms: 1000\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    std::optional<std::string> upgraded = websocket_upgrade(fd.get());
    REQUIRE(upgraded);
    const std::string& head = *upgraded;
    REQUIRE(head.rfind("HTTP/1.1 101 ", 0) == 0);
    // 12 echoes 250 ms apart: 3 s, three idle periods, never 1 s without a byte.
    for (int i = 0; i < 12; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
        REQUIRE(send_all(fd.get(), masked_text_frame("ping"), kIoTimeoutMs));
        auto echoed = recv_exact(fd.get(), 6, kIoTimeoutMs);
        REQUIRE(echoed);
        CHECK(echoed->substr(2) == "ping");
    }
    const Clock::time_point quiet = Clock::now();
    RecvResult rest = recv_until_eof(fd.get(), kIoTimeoutMs);
    CHECK(rest.end != StreamEnd::kTimeout);
    CHECK(ms_since(quiet) >= 1000);
    auto line = lbd->await_line(http_line_for("/ws"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "tunnel");
}

}  // namespace
}  // namespace lbd::test
