// Draining an HTTP pool's server with lbctl closes lbd's idle keep-alive connections to it at once
// (l7/upstream.h close_idle), and lbctl says how many.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/l7_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

TEST_CASE("lbctl server drain --wait closes the server's idle keep-alive connections at once and says so") {
    HttpBackend a("a");
    REQUIRE(a.port() != 0);
    TempDir dir;
    const std::string socket = dir.path() + "/admin.sock";
    // Idle server connections would stay a minute: a close within seconds is the drain's doing.
    RunningLbd lbd("global { workers: 2 drain_timeout_ms: 2000 admin { socket_path: \"" + socket + "\" } }\n"
                   "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n"
                   "  http { timeouts { server_idle_ms: 60000 } }\n}\n" +
                   http_pool("web", {&a}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    auto reply = http_request(lbd.port(), get_request("/warm", "example.com", "Connection: close\r\n"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    // The client connection closed; lbd's to the server stays, idle.
    CHECK(a.connections() == 1);
    CHECK(a.ended() == 0);

    Run run = lbctl({"--socket", socket, "server", "drain", "web/a", "--wait", "--wait-timeout", "5"});
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(has(run.output, "closed 1 idle keep-alive connection to web/a\n"));
    CHECK(poll_until([&] { return a.ended() == 1; }, 2000));

    // Enabling says nothing of idle connections; a second drain finds none.
    CHECK_FALSE(has(lbctl({"--socket", socket, "server", "enable", "web/a"}).output, "idle keep-alive"));
    run = lbctl({"--socket", socket, "server", "drain", "web/a"});
    CHECK(has(run.output, "closed 0 idle keep-alive connections to web/a\n"));
}

}  // namespace
}  // namespace lbd::test
