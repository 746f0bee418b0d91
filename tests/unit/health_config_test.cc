// Health at L7: status-range parsing (core/config/status_ranges.h), the loader's checks of a pool's
// health_check.http, passive_health and slow_start_ms (core/config/config_health.cc), each error named
// by file:line:column, and the slow start ramp of a server (core/balance/server.h).
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "core/loop/event.h"
#include "core/balance/server.h"
#include "core/config/status_ranges.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using test::all_errors;
using test::column_of;
using test::line_of;

// A TCP listener in front of pool "p"; `pool_extra` goes inside the pool block.
std::string pool_config(const std::string& pool_extra) {
    return "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  pool: \"p\"\n"
           "}\n"
           "pools {\n"
           "  name: \"p\"\n"
           "  servers { name: \"s1\" address: \"127.0.0.1:9001\" }\n" +
           pool_extra + "}\n";
}

const PoolConfig& pool_of(const ConfigLoadResult& result) {
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    return result.config->pools.at(0);
}

// The load fails with exactly `message`, reported as health.conf:LINE:COLUMN where `at` is.
void expect_error_at(const std::string& text, const std::string& at, const std::string& message) {
    ConfigLoadResult result = load_config_text(text, "health.conf");
    INFO(all_errors(result));
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].to_string() == "health.conf:" + std::to_string(line_of(text, at)) + ":" +
                                              std::to_string(column_of(text, at)) + ": " + message);
}

TEST_CASE("status ranges: codes, ranges and lists") {
    std::string error;
    auto one = StatusRanges::parse("200", &error);
    REQUIRE(one);
    CHECK(one->contains(200));
    CHECK_FALSE(one->contains(201));

    auto list = StatusRanges::parse(" 200-299 , 304,500-504", &error);
    REQUIRE(list);
    CHECK(list->contains(200));
    CHECK(list->contains(299));
    CHECK_FALSE(list->contains(300));
    CHECK(list->contains(304));
    CHECK(list->contains(502));
    CHECK_FALSE(list->contains(505));
    CHECK(list->to_string() == "200-299,304,500-504");
}

TEST_CASE("status ranges: malformed text is refused with a reason") {
    for (const char* bad : {"", " ", "20", "2000", "099", "600", "abc", "200-", "-300", "300-200", "200,,300",
                            "200-299-399", "2x0"}) {
        CAPTURE(bad);
        std::string error;
        CHECK_FALSE(StatusRanges::parse(bad, &error));
        CHECK_FALSE(error.empty());
    }
    std::string error;
    StatusRanges::parse("300-200", &error);
    CHECK(error == "bad status range '300-200': the first code is above the last");
}

TEST_CASE("an http check takes its defaults; without one the check is a TCP connect") {
    ConfigLoadResult plain = load_config_text(pool_config("  health_check {}\n"), "t.conf");
    const PoolConfig& tcp = pool_of(plain);
    CHECK(tcp.health_check.probe == "tcp");

    ConfigLoadResult result = load_config_text(pool_config("  health_check { http {} }\n"), "t.conf");
    const PoolConfig& p = pool_of(result);
    CHECK(p.health_check.probe == "http");
    CHECK(p.health_check.http.method == "GET");
    CHECK(p.health_check.http.path == "/");
    CHECK(p.health_check.http.host.empty());
    CHECK(p.health_check.http.expect_status.to_string() == "200-399");
    CHECK(p.health_check.http.body_contains.empty());
    CHECK(p.slow_start_ms == 0);
}

TEST_CASE("an http check and slow start as written") {
    ConfigLoadResult result = load_config_text(pool_config("  slow_start_ms: 30000\n"
                                                           "  health_check {\n"
                                                           "    http {\n"
                                                           "      method: \"HEAD\"\n"
                                                           "      path: \"/health?full=1\"\n"
                                                           "      host: \"api.example.com\"\n"
                                                           "      expect_status: \"200,204\"\n"
                                                           "      body_contains: \"ok\"\n"
                                                           "      headers { name: \"X-Check\" value: \"lbd\" }\n"
                                                           "    }\n"
                                                           "  }\n"),
                                               "t.conf");
    const PoolConfig& p = pool_of(result);
    const HttpCheckConfig& http = p.health_check.http;
    CHECK(p.slow_start_ms == 30000);
    CHECK(http.method == "HEAD");
    CHECK(http.path == "/health?full=1");
    CHECK(http.host == "api.example.com");
    CHECK(http.expect_status.to_string() == "200,204");
    CHECK(http.body_contains == "ok");
    REQUIRE(http.headers.size() == 1);
    CHECK(http.headers[0].name == "X-Check");
    CHECK(http.headers[0].value == "lbd");
}

TEST_CASE("http check errors name file:line:column") {
    std::string text = pool_config("  health_check {\n    http {\n      expect_status: \"200-99\"\n    }\n  }\n");
    expect_error_at(text, "expect_status", "http check: expect_status: bad status '200-99': expected a code "
                                           "100..599 or a range like 200-399");
    text = pool_config("  health_check {\n    http {\n      path: \"health\"\n    }\n  }\n");
    expect_error_at(text, "path:", "http check: bad path 'health' (must start with '/', no spaces or controls)");
    text = pool_config("  health_check {\n    http {\n      method: \"GE T\"\n    }\n  }\n");
    expect_error_at(text, "method:", "http check: bad method 'GE T'");
    text = pool_config("  health_check {\n    http {\n      host: \"a b\"\n    }\n  }\n");
    expect_error_at(text, "host:", "http check: bad host 'a b'");
    text = pool_config("  health_check {\n    http {\n      headers { name: \"Host\" value: \"x\" }\n    }\n  }\n");
    expect_error_at(text, "headers", "http check: set the Host header with `host`");
    text = pool_config("  health_check {\n    http {\n      headers { name: \"Connection\" value: \"x\" }\n    }\n  }\n");
    expect_error_at(text, "headers", "http check: header 'Connection' is managed by lbd and cannot be set");
}

TEST_CASE("passive health: defaults and failure statuses") {
    ConfigLoadResult defaults = load_config_text(pool_config("  passive_health { fail_timeout_ms: 4000 }\n"), "t");
    const PoolConfig& d = pool_of(defaults);
    CHECK(d.passive_health.failure_statuses.to_string() == "500,502-504,506-599");
    CHECK(d.passive_health.ejection_ms == 4000);  // defaults to fail_timeout_ms

    ConfigLoadResult set =
        load_config_text(pool_config("  passive_health { failure_statuses: \"502-504\" ejection_ms: 700 }\n"), "t");
    const PoolConfig& s = pool_of(set);
    CHECK(s.passive_health.failure_statuses.contains(503));
    CHECK_FALSE(s.passive_health.failure_statuses.contains(500));
    CHECK(s.passive_health.ejection_ms == 700);

    ConfigLoadResult disabled =
        load_config_text(pool_config("  passive_health { failure_statuses_disabled: true }\n"), "t");
    const PoolConfig& off = pool_of(disabled);
    CHECK(off.passive_health.failure_statuses.empty());
}

TEST_CASE("passive health errors name file:line:column") {
    std::string text = pool_config("  passive_health {\n    failure_statuses: \"5xx\"\n  }\n");
    expect_error_at(text, "failure_statuses",
                    "passive_health: failure_statuses: bad status '5xx': expected a code 100..599 or a range like "
                    "200-399");
    text = pool_config("  passive_health {\n    failure_statuses: \"503\"\n    failure_statuses_disabled: true\n  }\n");
    expect_error_at(text, "failure_statuses:",
                    "passive_health: failure_statuses and failure_statuses_disabled are both set");
}

TEST_CASE("slow start: a server back from DOWN ramps from 10% to its full weight") {
    std::atomic<uint64_t> generation{1};
    Server s("p", "a", *SocketAddress::parse("127.0.0.1:1"), 3);
    s.set_slow_start(1000);
    s.attach(&generation);
    CHECK(s.balancing_weight() == 3 * Server::kWeightScale);  // UP from the start: no ramp

    s.set_health(HealthState::kDown, "test");
    s.set_health(HealthState::kUp, "test");
    const uint64_t now = monotonic_ms();
    CHECK(s.slow_start_factor(now) == doctest::Approx(0.1).epsilon(0.05));
    CHECK(s.slow_start_factor(now + 500) == doctest::Approx(0.55).epsilon(0.05));
    CHECK(s.slow_start_factor(now + 1000) == 1.0);
    CHECK(s.balancing_weight() < 3 * Server::kWeightScale);

    // Each tick during the ramp makes workers rebuild; the tick after it ends the ramp.
    const uint64_t before = generation.load();
    s.slow_start_tick(now + 100);
    CHECK(generation.load() == before + 1);
    s.slow_start_tick(now + 1000);
    CHECK(generation.load() == before + 2);
    CHECK(s.slow_start_factor(now) == 1.0);
    s.slow_start_tick(now + 1100);
    CHECK(generation.load() == before + 2);  // no ramp: no more rebuilds
}

TEST_CASE("slow start: off by default, and a drained server does not ramp") {
    std::atomic<uint64_t> generation{1};
    Server off("p", "a", *SocketAddress::parse("127.0.0.1:1"));
    off.attach(&generation);
    off.set_health(HealthState::kDown, "test");
    off.set_health(HealthState::kUp, "test");
    CHECK(off.slow_start_factor(monotonic_ms()) == 1.0);

    Server drained("p", "b", *SocketAddress::parse("127.0.0.1:2"));
    drained.set_slow_start(1000);
    drained.attach(&generation);
    drained.set_admin_state(AdminState::kDrain, "test");
    drained.set_admin_state(AdminState::kReady, "test");
    CHECK(drained.slow_start_factor(monotonic_ms()) == 1.0);
    drained.set_admin_state(AdminState::kMaint, "test");
    drained.set_admin_state(AdminState::kReady, "test");
    CHECK(drained.slow_start_factor(monotonic_ms()) < 0.2);
}

}  // namespace
}  // namespace lbd
