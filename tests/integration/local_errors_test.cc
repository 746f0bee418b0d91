// lbd's own shortage is not the servers' fault (issue 16, finding 2), against the real lbd with
// its descriptor limit lowered by prlimit(2): health checks that cannot get a socket leave the
// servers UP (they were marked DOWN, and an HA peer would have been told), the shortage is
// counted in lbd_local_errors_total, and clients are served again as soon as descriptors return.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <string>

#include "tests/integration/fd_limits.h"
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

    REQUIRE(set_nofile(lbd->pid(), static_cast<rlim_t>(lowest_free_fd(lbd->pid()))));
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

}  // namespace lbd::test
