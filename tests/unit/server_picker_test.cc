// Unit tests for the per-worker ServerPicker (core/balance/pool.h) over a real Pool: which servers it may
// choose (UP only: not DOWN, DRAIN or MAINT; below max_connections; not already tried), that it
// follows state changes through the pool generation, and source-IP stickiness.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "core/balance/pool.h"

namespace {

using lbd::AdminState;
using lbd::HealthState;
using lbd::Server;

lbd::PoolConfig pool_config(int servers, uint32_t max_connections = 0) {
    lbd::register_builtin_balancers();
    lbd::PoolConfig config;
    config.name = "web";
    for (int i = 1; i <= servers; ++i) {
        lbd::ServerConfig server;
        server.name = "s" + std::to_string(i);
        server.address = *lbd::SocketAddress::parse("127.0.0." + std::to_string(i) + ":80");
        server.max_connections = max_connections;
        config.servers.push_back(server);
    }
    return config;
}

const lbd::SocketAddress kClient = *lbd::SocketAddress::parse("192.0.2.7:40000");

// The names of the servers `n` picks land on.
std::set<std::string> picked(lbd::ServerPicker& picker, int n, std::vector<const Server*> excluded = {}) {
    std::set<std::string> names;
    for (int i = 0; i < n; ++i) {
        auto server = picker.pick(kClient, excluded);
        names.insert(server ? server->name() : "none");
    }
    return names;
}

}  // namespace

TEST_CASE("picker: every UP server takes a turn; DOWN, DRAIN and MAINT servers none") {
    lbd::Pool pool(pool_config(4), nullptr);
    lbd::ServerPicker picker(pool);
    CHECK(picked(picker, 8) == std::set<std::string>{"s1", "s2", "s3", "s4"});
    pool.find_server("s2")->set_health(HealthState::kDown, "test");
    pool.find_server("s3")->set_admin_state(AdminState::kDrain, "test");
    pool.find_server("s4")->set_admin_state(AdminState::kMaint, "test");
    CHECK(picked(picker, 8) == std::set<std::string>{"s1"});
    CHECK(picker.any_up());
    pool.find_server("s1")->set_health(HealthState::kDown, "test");
    CHECK(picked(picker, 2) == std::set<std::string>{"none"});
    CHECK_FALSE(picker.any_up());
    CHECK(picker.server_count() == 4);
    // Back in service: picked again.
    pool.find_server("s3")->set_admin_state(AdminState::kReady, "test");
    CHECK(picked(picker, 4) == std::set<std::string>{"s3"});
}

TEST_CASE("picker: servers already tried for this request are excluded (retries)") {
    lbd::Pool pool(pool_config(3), nullptr);
    lbd::ServerPicker picker(pool);
    const Server* s1 = pool.find_server("s1").get();
    const Server* s2 = pool.find_server("s2").get();
    CHECK(picked(picker, 6, {s1}) == std::set<std::string>{"s2", "s3"});
    CHECK(picked(picker, 6, {s1, s2}) == std::set<std::string>{"s3"});
    CHECK(picked(picker, 2, {s1, s2, pool.find_server("s3").get()}) == std::set<std::string>{"none"});
    CHECK(picker.find_usable("s1", false, std::vector<const Server*>{s1}) == nullptr);
    CHECK(picker.find_usable("s3", false, std::vector<const Server*>{s1}) == pool.find_server("s3"));
    CHECK(picker.find_usable(pool.find_server("s2")->id(), true, {}) == pool.find_server("s2"));
    CHECK(picker.find_usable("nope", false, {}) == nullptr);
}

TEST_CASE("picker: a server at max_connections is passed over until a slot is released") {
    lbd::Pool pool(pool_config(2, /*max_connections=*/1), nullptr);
    lbd::ServerPicker picker(pool);
    auto s1 = pool.find_server("s1");
    auto s2 = pool.find_server("s2");
    REQUIRE(s1->try_acquire_slot());
    CHECK(picked(picker, 4) == std::set<std::string>{"s2"});
    CHECK(picker.any_free());
    REQUIRE(s2->try_acquire_slot());
    CHECK_FALSE(s2->try_acquire_slot());
    CHECK(picked(picker, 2) == std::set<std::string>{"none"});
    CHECK_FALSE(picker.any_free());
    CHECK(picker.any_up());  // UP but full: the caller queues rather than fails
    CHECK(picker.find_usable("s1", false, {}) == nullptr);
    s1->release_slot();
    CHECK(picked(picker, 2) == std::set<std::string>{"s1"});
}

TEST_CASE("picker: with source-IP stickiness a client keeps its server, and moves when it goes DOWN") {
    lbd::PoolConfig config = pool_config(3);
    config.stickiness.enabled = true;
    lbd::Pool pool(config, nullptr);
    lbd::ServerPicker picker(pool);
    const std::set<std::string> first = picked(picker, 6);
    REQUIRE(first.size() == 1);
    auto server = pool.find_server(*first.begin());
    server->set_health(HealthState::kDown, "test");
    const std::set<std::string> moved = picked(picker, 6);
    REQUIRE(moved.size() == 1);
    CHECK(*moved.begin() != *first.begin());
    // Its entry followed it: the old server coming back does not take the client back.
    server->set_health(HealthState::kUp, "test");
    CHECK(picked(picker, 6) == moved);
}
