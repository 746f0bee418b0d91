// lbd's own shortage is not the servers' fault (issue 16, finding 2), against the real lbd with
// its descriptor limit lowered by prlimit(2): health checks that cannot get a socket leave the
// servers UP (they were marked DOWN, and an HA peer would have been told), the shortage is
// counted in lbd_local_errors_total, and clients are served again as soon as descriptors return.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <string>

#include "tests/integration/fd_limits.h"
#include "tests/integration/l7_scenario.h"
#include "tests/integration/scenario.h"

namespace lbd::test {

TEST_CASE("out of descriptors: health checks keep the servers UP and count a local error") {
    EchoServer echo;
    RunningLbd lbd(single_pool_config(server_entry("s", echo.port()) + fast_health_check(), "",
                                      "workers: 1 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" }"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    rlimit old{};
    REQUIRE(prlimit(lbd->pid(), RLIMIT_NOFILE, nullptr, &old) == 0);

    // Below the lowest free number, by a margin: a probe's socket open at this moment would
    // otherwise leave its number free under the limit once it closes, for every later probe.
    REQUIRE(set_nofile(lbd->pid(), static_cast<rlim_t>(lowest_free_fd(lbd->pid()) - 2)));
    REQUIRE(lbd->wait_for_line("health check of p/s not run: Too many open files", kIoTimeoutMs));
    // fall is 1 and checks run every 100 ms: five more intervals without a DOWN.
    size_t checks_seen = lbd->line_count();
    REQUIRE(lbd->wait_for_line("health check of p/s not run", 2000, checks_seen));
    CHECK(lbd->count("server p/s is DOWN") == 0);

    REQUIRE(set_nofile(lbd->pid(), old.rlim_cur));
    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    CHECK(echoes(client.get(), "still served"));
    CHECK(lbd->count("server p/s is DOWN") == 0);

    UniqueFd scrape = connect_tcp(admin, kIoTimeoutMs);
    REQUIRE(scrape);
    REQUIRE(send_all(scrape.get(), "GET /metrics HTTP/1.0\r\n\r\n", kIoTimeoutMs));
    std::string metrics = recv_until_eof(scrape.get(), kIoTimeoutMs).data;
    CHECK(metrics.find("lbd_local_errors_total{cause=\"EMFILE\",where=\"health_check\"} 0\n") == std::string::npos);
    CHECK(metrics.find("lbd_local_errors_total{cause=\"EMFILE\",where=\"health_check\"} ") != std::string::npos);
    CHECK(metrics.find("lbd_server_state{pool=\"p\",server=\"s\",state=\"UP\"} 1\n") != std::string::npos);
}

TEST_CASE("out of descriptors at an L7 connect: 503 term=local_error, the server not blamed") {
    HttpBackend backend("b1");
    // Passive ejection after one failure: a connect blamed on the server would eject it at once.
    std::string pool = http_pool("web", {&backend}, "  passive_health { max_fails: 1 fail_timeout_ms: 60000 }\n");
    // No server connection kept for reuse: the request after the warm-up must connect anew.
    std::string config = http_config(pool, "    server_keep_alive_disabled: true\n");
    config.replace(config.find("global { workers: 2"), 19, "global { workers: 1");
    config.replace(config.find("drain_timeout_ms: 2000 }"), 24,
                   "drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }");
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    // The client's connection is accepted first; then no descriptor is left for the server side.
    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    // A first request warms the worker up (its server picker; under UBSan, the type checks that
    // read /proc and would fail without a descriptor).
    std::optional<HttpReply> warm = request_on(client.get(), get_request("/warm"));
    REQUIRE(warm);
    REQUIRE(warm->status == 200);
    // The warm-up's server connection (not kept for reuse) must be gone before the limit is set.
    REQUIRE(await_no_connection_to(lbd->pid(), backend.port(), kIoTimeoutMs));
    rlimit old{};
    REQUIRE(prlimit(lbd->pid(), RLIMIT_NOFILE, nullptr, &old) == 0);
    REQUIRE(set_nofile(lbd->pid(), static_cast<rlim_t>(lowest_free_fd(lbd->pid()))));
    std::optional<HttpReply> reply = request_on(client.get(), get_request("/first"));
    REQUIRE(set_nofile(lbd->pid(), old.rlim_cur));
    REQUIRE(reply);
    CHECK(reply->status == 503);
    std::optional<std::string> line = lbd->await_line(http_line_for("/first"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "local_error");
    CHECK(lbd->wait_for_line("lbd's own shortage, not the server's: answering 503", kIoTimeoutMs));

    // The server was neither ejected nor counted as failing: the next request reaches it.
    std::optional<HttpReply> next = http_request(lbd.port(), get_request("/second"), kIoTimeoutMs);
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(metric(admin, "lbd_server_connect_failures_total{pool=\"web\",server=\"b1\"}") == 0);
    // Two connects reached it (/warm, /second); the one that never left lbd is not counted.
    CHECK(metric(admin, "lbd_server_connections_total{pool=\"web\",server=\"b1\"}") == 2);
    CHECK(metric(admin, "lbd_local_errors_total{cause=\"EMFILE\",where=\"l7_connect\"}") == 1);
}

}  // namespace lbd::test
