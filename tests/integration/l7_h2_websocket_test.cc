// WebSocket over HTTP/2 (RFC 8441 extended CONNECT, `http2 { websocket: true }`), end to end: a
// python3-h2 client (tests/integration/h2_ws_client.py) through a real lbd to the test backend's
// RFC 6455 echo server over HTTP/1.1. Frames are compared byte for byte both ways, a message larger
// than the stream and connection windows goes through, several WebSocket streams share a connection
// with an ordinary request, and half-closes and resets cross over; then the refusals: the setting
// off (RST_STREAM PROTOCOL_ERROR), another :protocol (501), a server that refuses the upgrade (its
// status), a 200 without upgrade and a wrong Sec-WebSocket-Accept (502).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <thread>
#include <string>
#include <vector>

#include "tests/integration/l7_h2_scenario.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::test {
namespace {

using l7::test::run;
using l7::test::RunResult;

const std::string kWsClient = H2_WS_CLIENT;

std::string config(const HttpBackend& backend, bool websocket) {
    return h2c_config(backend, websocket ? "websocket: true" : "");
}

RunResult ws_client(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/python3", kWsClient};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60000);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

TEST_CASE("WebSocket over h2: streams beside a GET, frames echoed byte for byte, 3 MiB through the windows") {
    HttpBackend a("a");
    RunningLbd lbd(config(a, true));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    RunResult r = ws_client({"echo", std::to_string(lbd.port()), "4", std::to_string(3 << 20)});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(has(r.output, "settings_connect=1\n"));  // SETTINGS_ENABLE_CONNECT_PROTOCOL
    CHECK(has(r.output, "get_status=200\n"));
    for (int i = 0; i < 4; ++i) {
        const std::string s = "ws" + std::to_string(i);
        CHECK(has(r.output, s + "_status=200\n"));  // the server's 101
        CHECK(has(r.output, s + "_echo=ok\n"));
        CHECK(has(r.output, s + "_ended=1\n"));  // END_STREAM after the server's close or EOF
    }
    CHECK(has(r.output, "big_echo=ok\n"));
    CHECK(has(r.output, "ws0_close=ok\n"));
    CHECK(has(r.output, "resets=[]\n"));
    CHECK(has(r.output, "after_status=200\n"));

    // The server got an HTTP/1.1 upgrade with lbd's key and the client's fields.
    std::vector<std::string> heads = a.heads();
    const auto ws = std::count_if(heads.begin(), heads.end(), [](const std::string& h) {
        const std::string l = lower(h);
        return has(l, "get /ws http/1.1\r\n") && has(l, "upgrade: websocket\r\n") && has(l, "connection: upgrade\r\n") &&
               has(l, "sec-websocket-key: ") && has(l, "sec-websocket-version: 13\r\n") &&
               has(l, "sec-websocket-protocol: chat\r\n") && has(l, "origin: http://lbd.test\r\n");
    });
    CHECK(ws == 4);

    // Logged and counted as an HTTP/1 WebSocket: status=101 term=tunnel.
    auto line = lbd->await_line(http_line_for("/ws"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(has(*line, " proto=h2"));
    CHECK(field(*line, "status") == "101");
    CHECK(field(*line, "term") == "tunnel");
    CHECK(poll_until([&] {
        return metric(admin, "lbd_http_requests_ended_total{listener=\"front\",term=\"tunnel\"}") == 4;
    }));
    CHECK(metric(admin, "lbd_http_responses_total{listener=\"front\",class=\"1xx\"}") == 4);
}

TEST_CASE("the setting off: no SETTINGS_ENABLE_CONNECT_PROTOCOL, an extended CONNECT is a stream error") {
    HttpBackend a("a");
    RunningLbd lbd(config(a, false));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    RunResult r = ws_client({"connect", std::to_string(lbd.port()), "/ws", "websocket"});
    INFO(r.output);
    CHECK(has(r.output, "settings_connect=None\n"));
    CHECK(has(r.output, "status=None\n"));
    CHECK(has(r.output, "reset=1\n"));  // RFC 8441 §3, RFC 9113 §8.1.1: malformed, PROTOCOL_ERROR
    CHECK(has(r.output, "get_status=200\n"));  // a stream error: the connection goes on
    for (const std::string& head : a.heads()) CHECK(!has(head, "/ws"));
}

TEST_CASE("refusals: another :protocol 501; the server's refusal as it is; no upgrade or a wrong accept 502") {
    HttpBackend a("a");
    a.answer("/nows", 403, "no websockets here");
    a.answer("/plain200", 200, "not a websocket");
    a.answer("/badaccept", 101, "", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n");
    RunningLbd lbd(config(a, true));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string port = std::to_string(lbd.port());

    RunResult other = ws_client({"connect", port, "/ws", "connect-udp"});
    CHECK_MESSAGE(has(other.output, "status=501\n"), other.output);
    CHECK(has(other.output, "get_status=200\n"));
    RunResult refused = ws_client({"connect", port, "/nows", "websocket"});
    CHECK_MESSAGE(has(refused.output, "status=403\n"), refused.output);
    CHECK(has(refused.output, "body=no websockets here\n"));
    RunResult plain = ws_client({"connect", port, "/plain200", "websocket"});
    CHECK_MESSAGE(has(plain.output, "status=502\n"), plain.output);
    RunResult bad = ws_client({"connect", port, "/badaccept", "websocket"});
    CHECK_MESSAGE(has(bad.output, "status=502\n"), bad.output);
    CHECK(has(bad.output, "get_status=200\n"));
}

TEST_CASE("the client's RST_STREAM closes the WebSocket's server connection at once") {
    HttpBackend a("a");
    RunningLbd lbd(config(a, true));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // The client keeps its connection open 5 s after the reset: the server's connection must end
    // before, so only the stream's reset can have ended it.
    RunResult r;
    std::atomic<bool> client_done{false};
    std::thread client([&] {
        r = ws_client({"reset", std::to_string(lbd.port())});
        client_done = true;
    });
    const bool ended = poll_until([&] { return a.ended() == 1; }, 4000);
    const bool while_open = !client_done;
    client.join();
    INFO(r.output);
    CHECK(has(r.output, "echo=ok\n"));
    CHECK(has(r.output, "done=1\n"));
    CHECK(ended);
    CHECK(while_open);
    auto line = lbd->await_line(http_line_for("/ws"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "client_abort");
}

TEST_CASE("on drain the GOAWAY leaves the WebSocket open until the drain deadline, as an HTTP/1 one") {
    HttpBackend a("a");
    RunningLbd lbd(config(a, true));  // drain_timeout_ms: 2000
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    RunResult r;
    std::thread client([&] { r = ws_client({"drain", std::to_string(lbd.port())}); });
    // The server has the upgrade: the stream is open; lbd starts draining.
    const bool upgraded = poll_until([&] { return a.heads().size() == 1; });
    if (upgraded) lbd->send_signal(SIGTERM);
    client.join();
    INFO(r.output);
    REQUIRE(upgraded);
    CHECK(has(r.output, "echo_before=ok\n"));
    CHECK(has(r.output, "goaway=0\n"));  // graceful: NO_ERROR
    CHECK(has(r.output, "echo_after=ok\n"));  // the open stream still carries frames
    CHECK(has(r.output, "closed=1\n"));
    // Closed by the deadline, not by the GOAWAY.
    const size_t at = r.output.find("open_ms=");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoi(r.output.substr(at + 8)) >= 1000);
    CHECK(lbd->wait_exit(10000).has_value());
    auto line = lbd->await_line(http_line_for("/ws"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "drain");
}

}  // namespace
}  // namespace lbd::test
