// Many HTTP/2 streams to an HTTP/1.1 server (issue 12, bench/h2.sh's -m100 rows): h2load with 100
// clients of 100 concurrent streams each through lbd to a real nginx. Every stream in flight needs
// a server connection of its own, so the worker holds about 10,000 of them, and when a burst of
// responses frees more than max_idle_per_server at once, the requests right behind them need them
// again: they are kept for UpstreamPool::kIdleSurplusGraceMs before the surplus is closed. Before
// that, each burst closed its surplus at once and connected anew (about one connect per response,
// TIME_WAITs piling up, failed requests). Asserted: every request answered, and the connections
// lbd made stay near the streams' concurrency, not the request count.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/l7_scenario.h"
#include "tests/integration/proxy_senders.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::test {
namespace {

using l7::test::run;
using l7::test::RunResult;

constexpr int kClients = 100;
constexpr int kStreams = 100;  // per client: h2load -m, and lbd's max_concurrent_streams default
constexpr int kRequests = 40000;

// nginx, one worker, answering every request "ok" over HTTP/1.1 keep-alive.
ExternalServer start_backend(const TempDir& dir) {
    const std::string& d = dir.path();
    return start_nginx_with(dir, [&](uint16_t port) {
        return "events { worker_connections 16384; }\n"
               "http {\n"
               "  access_log off;\n"
               "  keepalive_requests 1000000;\n"
               "  keepalive_timeout 60s;\n"
               "  client_body_temp_path " + d + "/body;\n"
               "  proxy_temp_path " + d + "/proxy;\n"
               "  fastcgi_temp_path " + d + "/fastcgi;\n"
               "  uwsgi_temp_path " + d + "/uwsgi;\n"
               "  scgi_temp_path " + d + "/scgi;\n"
               "  server {\n"
               "    listen 127.0.0.1:" + std::to_string(port) + " backlog=4096;\n"
               "    location / { return 200 \"ok\\n\"; }\n"
               "  }\n"
               "}\n";
    });
}

TEST_CASE("100 clients x 100 streams: every request answered; server connections stay near the concurrency") {
    TempDir dir;
    ExternalServer backend = start_backend(dir);
    REQUIRE(backend);
    // One worker (all 10,000 streams share its pool), a pool cap far below the concurrency, and
    // no access log line per request (40,000 of them would only slow the run).
    RunningLbd lbd("global { workers: 1 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
                   "listeners {\n"
                   "  name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"web\" max_connections: 0\n"
                   "  http { max_idle_per_server: 100 http2 { cleartext: true }\n"
                   "         routes { name: \"all\" match { path_prefix: \"/\" } pool: \"web\" access_log: false } }\n"
                   "}\n"
                   "pools { name: \"web\" " + server_entry("nginx", backend.port) + "}\n");
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    RunResult load = run({"h2load", "-c", std::to_string(kClients), "-m", std::to_string(kStreams), "-n",
                          std::to_string(kRequests), url(lbd.port(), "/ok")},
                         120000);
    MESSAGE(load.output);
    CHECK(has(load.output, std::to_string(kRequests) + " succeeded, 0 failed, 0 errored, 0 timeout"));
    // Each stream in flight holds a connection; a burst's surplus is reused, not closed and made
    // again. Closing it at once made one connect for nearly every response (38,500 for 40,000
    // requests; with the grace about 15,000: the first 10,000, and what the ramp's bursts add).
    const double made = metric(admin, "lbd_server_connections_total{pool=\"web\",server=\"nginx\"}");
    MESSAGE("server connections made: " << made << " for " << kRequests << " requests");
    CHECK(made >= 1);
    CHECK(made <= 2 * kClients * kStreams);
    CHECK(metric(admin, "lbd_local_errors_total{cause=\"EADDRNOTAVAIL\",where=\"l7_connect\"}") == 0);
}

}  // namespace
}  // namespace lbd::test
