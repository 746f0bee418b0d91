// Health at L7 with the real lbd and real HTTP backends: active HTTP checks (status, body
// substring, Host header; on HTTP and TCP listeners), passive ejection on failure statuses with
// the revival after the ejection time, and slow start (a returning server's share of requests
// grows over slow_start_ms, and lbctl shows its effective weight).
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lbd/v1/admin.pb.h"
#include "tests/integration/l7_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// An HTTP listener "front" on pool "web" (one worker, so one balancer decides every share),
// with an admin socket for lbctl.
std::string health_config(const std::string& pools, const std::string& admin_socket,
                          const std::string& mode = "MODE_HTTP") {
    return "global { workers: 1 drain_timeout_ms: 2000 admin { socket_path: \"" + admin_socket + "\" } }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: " + mode + "\n"
           "  pool: \"web\"\n"
           "}\n" + pools;
}

// Checks every interval_ms with timeout_ms = interval_ms: generous, so that a loaded machine
// (sanitizers, parallel builds) does not time a healthy check out.
std::string http_check(const std::string& http_body, int interval_ms = 250, int rise = 2, int fall = 2) {
    return "  health_check {\n    interval_ms: " + std::to_string(interval_ms) +
           "\n    timeout_ms: " + std::to_string(interval_ms) + "\n    rise: " + std::to_string(rise) +
           "\n    fall: " + std::to_string(fall) + "\n    http {\n" + http_body + "    }\n  }\n";
}

// The pattern of the log line saying server web/NAME became `state` for `reason`.
LinePattern became(const std::string& name, const std::string& state, const std::string& reason) {
    return LinePattern("server web/" + name + " is " + state + " (" + reason);
}

// Sends `n` requests for `path` on one keep-alive connection; returns how many each backend
// answered (by the "server=NAME" line of the body), under "status NNN" for other statuses.
std::map<std::string, int> spread(uint16_t port, int n, const std::string& path = "/app") {
    std::map<std::string, int> out;
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    for (int i = 0; i < n; ++i) {
        if (!fd) fd = connect_tcp(port, kIoTimeoutMs);
        if (!send_all(fd.get(), get_request(path), kIoTimeoutMs)) {
            ++out["send failed"];
            fd.reset();
            continue;
        }
        auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
        if (!reply) {
            ++out["no reply"];
            fd.reset();
            continue;
        }
        if (reply->status != 200) {
            ++out["status " + std::to_string(reply->status)];
        } else {
            const size_t at = reply->body.find("server=");
            ++out[at == std::string::npos ? "?" : reply->body.substr(at + 7, reply->body.find('\n', at) - at - 7)];
        }
        if (reply->closed) fd.reset();
    }
    return out;
}

// How many request heads `backend` received for `path` ("GET /app ...").
size_t requests_for(const HttpBackend& backend, const std::string& path) {
    size_t n = 0;
    for (const std::string& head : backend.heads())
        if (head.rfind("GET " + path + " ", 0) == 0) ++n;
    return n;
}

// lbctl's view of server web/NAME.
std::optional<v1::ServerInfo> server_info(const std::string& socket, const std::string& name) {
    Run run = lbctl({"--socket", socket, "--json", "servers"});
    auto reply = parse_json<v1::ServersReply>(run.output);
    if (!reply) return std::nullopt;
    for (const auto& s : reply->servers())
        if (s.name() == name) return s;
    return std::nullopt;
}

TEST_CASE("http check: a server whose /health answers 500 goes DOWN within fall*interval and returns when fixed") {
    TempDir dir;
    const std::string socket = dir.path() + "/admin.sock";
    HttpBackend a("a"), b("b");
    const int interval = 250, fall = 2;
    RunningLbd lbd(health_config(
        http_pool("web", {&a, &b}, http_check("      path: \"/health\"\n      host: \"health.example\"\n", interval, 2, fall)),
        socket));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // Both are checked and healthy: a request reaches each in turn.
    CHECK(spread(lbd.port(), 4)["a"] == 2);

    a.answer("/health", 500);
    const auto broke = Clock::now();
    // fall failures, each an interval apart, plus up to one interval until the next probe.
    REQUIRE(lbd->wait_for_line(became("a", "DOWN", "health check: HTTP 500, 2/2 failures"),
                               (fall + 1) * interval + 1500));
    CHECK(ms_since(broke) >= (fall - 1) * interval);
    const size_t a_before = requests_for(a, "/app");
    auto after = spread(lbd.port(), 10);
    CHECK(after["b"] == 10);
    CHECK(requests_for(a, "/app") == a_before);

    a.forget("/health");
    REQUIRE(lbd->wait_for_line(became("a", "UP", "health check: HTTP 200, 2/2 successes"), 3000));
    CHECK(spread(lbd.port(), 4)["a"] == 2);

    // The checks' requests: the configured Host, and Connection: close (the probe reads to EOF).
    std::vector<std::string> checks;
    for (const std::string& head : a.heads())
        if (head.rfind("GET /health HTTP/1.1\r\n", 0) == 0) checks.push_back(head);
    REQUIRE_FALSE(checks.empty());
    for (const std::string& head : checks) {
        CHECK(has(head, "\r\nHost: health.example\r\n"));
        CHECK(has(head, "\r\nConnection: close\r\n"));
    }
}

TEST_CASE("http check: a body without the expected substring takes the server DOWN") {
    TempDir dir;
    HttpBackend a("a"), b("b");
    a.answer("/health", 200, "status: ok\n");
    b.answer("/health", 200, "status: ok\n");
    RunningLbd lbd(health_config(
        http_pool("web", {&a, &b},
                  http_check("      path: \"/health\"\n      expect_status: \"200\"\n      body_contains: \"ok\"\n")),
        dir.path() + "/admin.sock"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    a.answer("/health", 200, "status: degraded\n");
    REQUIRE(lbd->wait_for_line(became("a", "DOWN", "health check: body lacks 'ok'"), 3000));
    CHECK(spread(lbd.port(), 6)["b"] == 6);
    a.answer("/health", 200, "status: ok\n");
    REQUIRE(lbd->wait_for_line(became("a", "UP", "health check: HTTP 200, body matches"), 3000));
    CHECK(lbd->count(became("b", "DOWN", "")) == 0);
}

TEST_CASE("http check: a chunked body is searched de-chunked") {
    TempDir dir;
    HttpBackend a("a"), b("b");
    // /chunked comes in chunks of 7 bytes: "server=" | "a\nGET /" ... The raw bytes never hold "server=a".
    RunningLbd lbd(health_config(
        http_pool("web", {&a, &b}, http_check("      path: \"/chunked\"\n      body_contains: \"server=a\"\n")),
        dir.path() + "/admin.sock"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    REQUIRE(lbd->wait_for_line(became("b", "DOWN", "health check: body lacks 'server=a'"), 3000));
    // a has had as many checks as took b down, and more: it stays UP.
    CHECK(poll_until([&] { return a.requests() >= 4; }));
    CHECK(lbd->count(became("a", "DOWN", "")) == 0);
    CHECK(spread(lbd.port(), 4)["a"] == 4);
}

TEST_CASE("http check on a TCP (L4) pool: a 503 health page takes the server DOWN") {
    TempDir dir;
    HttpBackend a("a"), b("b");
    RunningLbd lbd(health_config(http_pool("web", {&a, &b}, http_check("      path: \"/status\"\n")),
                                 dir.path() + "/admin.sock", "MODE_TCP"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    a.answer("/status", 503);
    REQUIRE(lbd->wait_for_line(became("a", "DOWN", "health check: HTTP 503, 2/2 failures"), 3000));
    // Through the TCP listener every new connection now reaches b.
    for (int i = 0; i < 4; ++i) {
        auto reply = http_request(lbd.port(), get_request("/app"), kIoTimeoutMs);
        REQUIRE(reply);
        CHECK(has(reply->body, "server=b\n"));
    }
    a.forget("/status");
    REQUIRE(lbd->wait_for_line(became("a", "UP", "health check: HTTP 200"), 3000));
}

TEST_CASE("http check: a server that never answers fails by timeout, a closed port by connection refused") {
    TempDir dir;
    HttpBackend a("a");
    // Pool "spare" serves no listener: its servers are checked all the same. Nothing listens on b's port.
    const std::string spare = "pools {\n  name: \"spare\"\n" + server_entry("b", pick_free_port()) +
                              http_check("      path: \"/health\"\n", 200, 1, 1) + "}\n";
    RunningLbd lbd(health_config(http_pool("web", {&a}, http_check("      path: \"/hang\"\n", 200, 1, 1)) + spare,
                                 dir.path() + "/admin.sock"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    REQUIRE(lbd->wait_for_line(became("a", "DOWN", "health check: timeout, 1/1 failures"), 3000));
    REQUIRE(lbd->wait_for_line(LinePattern("server spare/b is DOWN (health check: Connection refused"), 3000));
}

TEST_CASE("http check: an answer the proxy's grammar refuses takes the server DOWN, whatever its status") {
    TempDir dir;
    HttpBackend a("a");
    // Each answers every connection with these bytes, then closes. Both say 200; the probe's old
    // reader looked at the status line only and kept both UP.
    SourceServer listed(std::make_shared<const std::string>("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"));
    SourceServer bare_lf(std::make_shared<const std::string>("HTTP/1.1 200 OK\nContent-Length: 0\n\n"));
    // Pool "spare" serves no listener: its servers are checked all the same.
    const std::string spare = "pools {\n  name: \"spare\"\n" + server_entry("listed", listed.port()) +
                              server_entry("bare_lf", bare_lf.port()) + http_check("      path: \"/\"\n", 200, 1, 1) +
                              "}\n";
    RunningLbd lbd(health_config(http_pool("web", {&a}) + spare, dir.path() + "/admin.sock"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    REQUIRE(lbd->wait_for_line(
        LinePattern("server spare/listed is DOWN (health check: bad response: malformed content-length"), 3000));
    REQUIRE(lbd->wait_for_line(LinePattern("server spare/bare_lf is DOWN (health check: bad response: LF without CR"), 3000));
}

TEST_CASE("passive: a server answering 503 is ejected after max_fails, gets nothing, and returns after ejection_ms") {
    TempDir dir;
    HttpBackend a("a"), b("b");
    a.answer("*", 503);
    const int ejection_ms = 1500;
    RunningLbd lbd(health_config(
        http_pool("web", {&a, &b},
                  "  passive_health { max_fails: 3 fail_timeout_ms: 10000 ejection_ms: " +
                      std::to_string(ejection_ms) + " }\n"),
        dir.path() + "/admin.sock"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Round robin: every other request goes to a until its third 503 ejects it.
    auto first = spread(lbd.port(), 10);
    CHECK(first["status 503"] == 3);
    CHECK(first["b"] == 7);
    auto ejected = lbd->await_line(
        became("a", "DOWN", "passive: ejected after 3 failures within 10000 ms, last: HTTP 503"), kIoTimeoutMs);
    REQUIRE(ejected);
    const auto down_at = Clock::now();
    const size_t a_before = requests_for(a, "/app");
    CHECK(spread(lbd.port(), 10)["b"] == 10);
    CHECK(requests_for(a, "/app") == a_before);

    // No active check: a comes back by itself after the ejection time, and it is fixed now.
    a.forget("*");
    REQUIRE(lbd->wait_for_line(became("a", "UP", "passive:"), ejection_ms + 3000));
    CHECK(ms_since(down_at) >= ejection_ms - 500);  // margin: the log line is seen a little late
    CHECK(spread(lbd.port(), 4)["a"] == 2);
}

TEST_CASE("passive: statuses outside failure_statuses do not count") {
    TempDir dir;
    HttpBackend a("a"), b("b");
    a.answer("*", 500);
    RunningLbd lbd(health_config(
        http_pool("web", {&a, &b}, "  passive_health { max_fails: 2 failure_statuses: \"502-504\" }\n"),
        dir.path() + "/admin.sock"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(spread(lbd.port(), 10)["status 500"] == 5);
    CHECK(lbd->count(became("a", "DOWN", "")) == 0);
}

TEST_CASE("slow start: a returning server's share starts well below fair and reaches it after the ramp") {
    TempDir dir;
    const std::string socket = dir.path() + "/admin.sock";
    HttpBackend a("a"), b("b");
    const int ramp_ms = 3000;
    RunningLbd lbd(health_config(
        http_pool("web", {&a, &b},
                  "  slow_start_ms: " + std::to_string(ramp_ms) + "\n" +
                      http_check("      path: \"/health\"\n", 300, 1, 2)),
        socket));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // Not at start-up: both servers take their full share at once.
    auto start = spread(lbd.port(), 40);
    CHECK(start["a"] == 20);

    a.answer("/health", 500);
    REQUIRE(lbd->wait_for_line(became("a", "DOWN", "health check: HTTP 500"), 3000));
    a.forget("/health");
    REQUIRE(lbd->wait_for_line(became("a", "UP", "health check: HTTP 200"), 3000));
    const auto up_at = Clock::now();

    auto early = spread(lbd.port(), 400);
    const int64_t early_ms = ms_since(up_at);
    // The share below is only meaningful in the first part of the ramp.
    REQUIRE_MESSAGE(early_ms < ramp_ms / 2, "400 requests took " << early_ms << " ms");
    CAPTURE(early_ms);
    CHECK(early["a"] + early["b"] == 400);
    CHECK(early["a"] > 0);     // it does take some traffic: it starts at 10% of its weight
    CHECK(early["a"] < 120);   // fair is 200; over the first half of the ramp it is at most ~1/3
    auto ramping = server_info(socket, "a");
    REQUIRE(ramping);
    CHECK(ramping->weight() == 1);
    CHECK(ramping->effective_weight() < 1.0);
    Run table = lbctl({"--socket", socket, "servers"});
    CHECK(has(table.output, "(slow start "));

    // After the ramp lbctl shows the full weight and the share is fair again.
    Run settled = lbctl_until({"--socket", socket, "--json", "servers"},
                              [](const Run& run) {
                                  auto reply = parse_json<v1::ServersReply>(run.output);
                                  if (!reply) return false;
                                  for (const auto& s : reply->servers())
                                      if (s.effective_weight() != s.weight()) return false;
                                  return true;
                              },
                              ramp_ms + 3000);
    INFO(settled.output);
    CHECK(ms_since(up_at) >= ramp_ms - 500);
    auto late = spread(lbd.port(), 400);
    CHECK(late["a"] >= 180);
    CHECK(late["a"] <= 220);
}

}  // namespace
}  // namespace lbd::test
