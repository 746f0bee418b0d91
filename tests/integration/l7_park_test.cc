// Parked keep-alive connections (l7/parked_client.h) against the real lbd: an idle client
// connection gives up its session and keeps only its socket; its next request, its FIN, a reset,
// the keep-alive timeout, a reload and a shutdown must all find it as a session would have.
// lbd_http_connections_parked (the admin /metrics) shows when a connection is parked.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

const std::string kParked = "lbd_http_connections_parked{listener=\"front\"}";
const std::string kActive = "lbd_http_connections_active{listener=\"front\"}";

// "front" on pool "web" with `http_body`, and the admin HTTP listener on an ephemeral port.
std::string park_config(const HttpBackend& backend, const std::string& http_body = "") {
    return "global { workers: 2 drain_timeout_ms: 5000 admin { http_bind: \"127.0.0.1:0\" } }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n"
           "  pool: \"web\"\n"
           "  http {\n" +
           http_body + "  }\n}\n" + http_pool("web", {&backend});
}

bool metric_is(uint16_t admin, const std::string& sample, double want) {
    return poll_until([&] { return metric(admin, sample) == want; });
}

// GET `path` on an open connection; the reply's body, or "" unless 200.
std::string get_on(int fd, const std::string& path) {
    auto reply = request_on(fd, get_request(path));
    return reply && reply->status == 200 ? reply->body : "";
}

TEST_CASE("an idle connection is parked; its next requests are served on it, and its FIN closes it") {
    HttpBackend a("a");
    RunningLbd lbd(park_config(a));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    constexpr int kClients = 200;
    std::vector<UniqueFd> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(connect_tcp(lbd.port(), kIoTimeoutMs));
        REQUIRE(clients.back());
        REQUIRE(has(get_on(clients.back().get(), "/first"), "GET /first "));
    }
    CHECK(metric_is(admin, kParked, kClients));
    CHECK(metric(admin, kActive) == kClients);

    // Each wakes up for its second request, on the same connection; a pipelined pair is answered in order.
    for (auto& fd : clients) CHECK(has(get_on(fd.get(), "/second"), "GET /second "));
    CHECK(metric_is(admin, kParked, kClients));

    // A reset while parked closes the connection as a FIN does. The descriptor numbers it frees
    // go to the next connections, which park in the same places and are served.
    constexpr int kReset = kClients / 2;
    for (int i = 0; i < kReset; ++i) {
        const linger hard{1, 0};
        REQUIRE(setsockopt(clients[i].get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
        clients[i].reset();
    }
    CHECK(metric_is(admin, kActive, kClients - kReset));
    CHECK(metric(admin, kParked) == kClients - kReset);
    for (int i = 0; i < kReset; ++i) {
        clients[i] = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(clients[i]);
        REQUIRE(has(get_on(clients[i].get(), "/again"), "GET /again "));
    }
    CHECK(metric_is(admin, kParked, kClients));
    // (read_http_reply would swallow the second response with the first: read to the close.)
    REQUIRE(send_all(clients[0].get(), get_request("/p1") + get_request("/p2", "x", "Connection: close\r\n"),
                     kIoTimeoutMs));
    RecvResult both = recv_until_eof(clients[0].get(), kIoTimeoutMs);
    CHECK(both.end == StreamEnd::kEof);
    const size_t p1 = both.data.find("GET /p1 "), p2 = both.data.find("GET /p2 ");
    CHECK(p1 != std::string::npos);
    CHECK(p2 != std::string::npos);
    CHECK(p1 < p2);
    CHECK(a.requests() == 2 * kClients + kReset + 2);

    // A FIN while parked: lbd closes its side too, and counts the connection gone.
    clients.clear();
    CHECK(metric_is(admin, kActive, 0));
    CHECK(metric(admin, kParked) == 0);
}

TEST_CASE("a parked connection is closed at the keep-alive timeout, with a FIN") {
    HttpBackend a("a");
    RunningLbd lbd(park_config(a, "    timeouts { client_keep_alive_ms: 600 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(fd);
    REQUIRE(has(get_on(fd.get(), "/x"), "GET /x "));
    const auto answered = std::chrono::steady_clock::now();
    REQUIRE(metric_is(admin, kParked, 1));
    RecvResult rest = recv_until_eof(fd.get(), kIoTimeoutMs);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - answered);
    CHECK(rest.end == StreamEnd::kEof);  // a FIN, not a reset
    CHECK(rest.data.empty());
    // The timeout counts from the response, not from the parking.
    CHECK(waited.count() >= 550);
    CHECK(waited.count() < 3000);
    CHECK(metric_is(admin, kActive, 0));
    CHECK(metric(admin, kParked) == 0);
}

TEST_CASE("a reload leaves parked connections working; a shutdown closes them at once") {
    HttpBackend a("a"), b("b");
    RunningLbd lbd(park_config(a));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    UniqueFd old_conn = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(old_conn);
    REQUIRE(has(get_on(old_conn.get(), "/before"), "server=a"));
    REQUIRE(metric_is(admin, kParked, 1));

    // The pool now points at b. The parked connection keeps the configuration it began on (as a
    // busy one does); a new connection gets the new one.
    std::string next = park_config(b);
    REQUIRE(reload_lbd(lbd, next, "reload applied", 1));
    CHECK(has(get_on(old_conn.get(), "/after"), "server=a"));
    UniqueFd new_conn = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(new_conn);
    CHECK(has(get_on(new_conn.get(), "/new"), "server=b"));
    REQUIRE(metric_is(admin, kParked, 2));

    // SIGTERM: nothing is in flight, so both get a FIN long before drain_timeout_ms (5 s).
    const auto stop_sent = std::chrono::steady_clock::now();
    REQUIRE(lbd->send_signal(SIGTERM));
    for (UniqueFd* fd : {&old_conn, &new_conn}) {
        RecvResult rest = recv_until_eof(fd->get(), kIoTimeoutMs);
        CHECK(rest.end == StreamEnd::kEof);
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stop_sent);
    CHECK(waited.count() < 2500);
    CHECK(lbd->stop(kIoTimeoutMs) == 0);
}

}  // namespace
}  // namespace lbd::test
