// Unit tests for the health decisions that scenarios otherwise reach only through a running lbd:
// rise/fall counting (core/health/rise_fall.h), passive ejection and revival (core/health/passive_health.h,
// Server::record_failure) and the slow-start ramp (Server::slow_start_factor). No sockets; the
// revival runs its timer on a bare event loop.
#include <doctest/doctest.h>

#include <memory>

#include "core/loop/event.h"
#include "core/health/passive_health.h"
#include "core/health/rise_fall.h"
#include "core/balance/server.h"

namespace {

using lbd::HealthState;
using lbd::RiseFall;
using lbd::Server;

std::shared_ptr<Server> make_server(uint32_t weight = 1) {
    return std::make_shared<Server>("web", "s1", lbd::SocketAddress{}, weight);
}

// The pool config of passive ejection after `max_fails` failures in `window_ms`.
lbd::PoolConfig passive_pool(uint32_t max_fails, uint32_t window_ms, bool active_checks) {
    lbd::PoolConfig pool;
    pool.passive_health.enabled = true;
    pool.passive_health.max_fails = max_fails;
    pool.passive_health.fail_timeout_ms = window_ms;
    pool.passive_health.failure_statuses = *lbd::StatusRanges::parse("500,502-504", nullptr);
    pool.health_check.enabled = active_checks;
    return pool;
}

}  // namespace

TEST_CASE("rise/fall: fall consecutive failures take an UP server DOWN, rise successes bring it back") {
    RiseFall counter(/*rise=*/2, /*fall=*/3);
    CHECK_FALSE(counter.record(false, HealthState::kUp));
    CHECK_FALSE(counter.record(false, HealthState::kUp));
    auto down = counter.record(false, HealthState::kUp);
    REQUIRE(down);
    CHECK(down->health == HealthState::kDown);
    CHECK(down->streak == 3);
    CHECK_FALSE(counter.record(true, HealthState::kDown));
    auto up = counter.record(true, HealthState::kDown);
    REQUIRE(up);
    CHECK(up->health == HealthState::kUp);
    CHECK(up->streak == 2);
}

TEST_CASE("rise/fall: a streak is consecutive; the other outcome starts it again") {
    RiseFall counter(2, 2);
    CHECK_FALSE(counter.record(false, HealthState::kUp));
    CHECK_FALSE(counter.record(true, HealthState::kUp));  // resets the failures
    CHECK_FALSE(counter.record(false, HealthState::kUp));
    CHECK(counter.record(false, HealthState::kUp));
    CHECK_FALSE(counter.record(true, HealthState::kDown));
    CHECK_FALSE(counter.record(false, HealthState::kDown));  // resets the successes
    CHECK_FALSE(counter.record(true, HealthState::kDown));
    CHECK(counter.record(true, HealthState::kDown));
}

TEST_CASE("rise/fall: outcomes that agree with the health change nothing, whoever set it") {
    RiseFall counter(1, 1);
    CHECK_FALSE(counter.record(true, HealthState::kUp));
    CHECK_FALSE(counter.record(false, HealthState::kDown));  // passive ejection took it DOWN meanwhile
    auto up = counter.record(true, HealthState::kDown);
    REQUIRE(up);
    CHECK(up->streak == 1);
}

TEST_CASE("passive: max_fails failures within fail_timeout eject; older ones do not count") {
    Server server("web", "s1", lbd::SocketAddress{});
    CHECK_FALSE(server.record_failure(1000, 3, 500));
    CHECK_FALSE(server.record_failure(1200, 3, 500));
    CHECK(server.record_failure(1400, 3, 500));  // 3 within 400 ms
    // The count starts again after an ejection, and a window that expired starts a new one.
    CHECK_FALSE(server.record_failure(2000, 3, 500));
    CHECK_FALSE(server.record_failure(2400, 3, 500));
    CHECK_FALSE(server.record_failure(2600, 3, 500));  // 600 ms after the window began: a new window
    CHECK_FALSE(server.record_failure(2700, 3, 500));
    CHECK(server.record_failure(2800, 3, 500));
    // max_fails 0 never ejects.
    CHECK_FALSE(server.record_failure(3000, 0, 500));
}

TEST_CASE("passive: failure statuses eject, other statuses do not count; the revival is the caller's without checks") {
    auto server = make_server();
    const lbd::PoolConfig without_checks = passive_pool(2, 60000, false);
    CHECK_FALSE(lbd::passive_response_status(*server, without_checks, 404));
    CHECK_FALSE(lbd::passive_response_status(*server, without_checks, 501));
    CHECK_FALSE(lbd::passive_response_status(*server, without_checks, 502));
    CHECK(server->health() == HealthState::kUp);
    CHECK(lbd::passive_response_status(*server, without_checks, 503));  // ejected; schedule a revival
    CHECK(server->health() == HealthState::kDown);
    // Answers still in flight do not eject it again (one revival per ejection).
    CHECK_FALSE(lbd::passive_response_status(*server, without_checks, 503));
    CHECK_FALSE(lbd::passive_connect_failure(*server, without_checks, "Connection refused"));

    // With active checks the server is ejected the same, but the checks bring it back.
    auto checked = make_server();
    const lbd::PoolConfig with_checks = passive_pool(1, 60000, true);
    CHECK_FALSE(lbd::passive_connect_failure(*checked, with_checks, "Connection refused"));
    CHECK(checked->health() == HealthState::kDown);

    // Passive health off: nothing counts.
    auto unwatched = make_server();
    lbd::PoolConfig off = passive_pool(1, 60000, false);
    off.passive_health.enabled = false;
    CHECK_FALSE(lbd::passive_response_status(*unwatched, off, 503));
    CHECK(unwatched->health() == HealthState::kUp);
}

TEST_CASE("passive: an ejected server is revived after ejection_ms") {
    lbd::EventBasePtr base(event_base_new());
    REQUIRE(base);
    auto server = make_server();
    server->set_health(HealthState::kDown, "test");
    lbd::PassiveRevivals revivals(base.get());
    const uint64_t start = lbd::monotonic_ms();
    revivals.schedule(server, 30);
    CHECK(server->health() == HealthState::kDown);
    while (server->health() == HealthState::kDown && lbd::monotonic_ms() - start < 5000)
        event_base_loop(base.get(), EVLOOP_ONCE);
    CHECK(server->health() == HealthState::kUp);
    CHECK(lbd::monotonic_ms() - start >= 30);
}

TEST_CASE("slow start: a server back from DOWN takes 10% of its weight, growing linearly to all of it") {
    auto server = make_server(/*weight=*/4);
    server->set_slow_start(1000);
    CHECK(server->slow_start_factor(lbd::monotonic_ms()) == 1.0);  // never down: no ramp
    server->set_health(HealthState::kDown, "test");
    server->set_health(HealthState::kUp, "test");
    const uint64_t now = lbd::monotonic_ms();
    CHECK(server->slow_start_factor(now) == doctest::Approx(0.1).epsilon(0.02));
    CHECK(server->slow_start_factor(now + 500) == doctest::Approx(0.55).epsilon(0.02));
    CHECK(server->slow_start_factor(now + 1000) == 1.0);
    CHECK(server->balancing_weight() <= 4 * Server::kWeightScale / 5);
    // The ticker ends the ramp once it is over.
    server->slow_start_tick(now + 1000);
    CHECK(server->slow_start_factor(now) == 1.0);
    CHECK(server->balancing_weight() == 4 * Server::kWeightScale);
}

TEST_CASE("slow start: back from MAINT ramps, back from DRAIN (kept warm) does not, and 0 ms means off") {
    auto server = make_server();
    server->set_slow_start(1000);
    server->set_admin_state(lbd::AdminState::kDrain, "test");
    server->set_admin_state(lbd::AdminState::kReady, "test");
    CHECK(server->slow_start_factor(lbd::monotonic_ms()) == 1.0);
    server->set_admin_state(lbd::AdminState::kMaint, "test");
    server->set_admin_state(lbd::AdminState::kReady, "test");
    CHECK(server->slow_start_factor(lbd::monotonic_ms()) < 0.5);

    auto plain = make_server();
    plain->set_health(HealthState::kDown, "test");
    plain->set_health(HealthState::kUp, "test");
    CHECK(plain->slow_start_factor(lbd::monotonic_ms()) == 1.0);
    CHECK(plain->balancing_weight() == Server::kWeightScale);
}
