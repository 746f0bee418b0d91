// The configs shipped in sysconf/ must load: they are what operators copy.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/config_loader.h"

#ifndef LBD_SOURCE_DIR
#error "LBD_SOURCE_DIR must name the source tree (the build defines it)"
#endif

namespace lbd {
namespace {

std::vector<std::string> shipped_configs() {
    std::vector<std::string> paths;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(LBD_SOURCE_DIR) + "/sysconf"))
        if (entry.is_regular_file() && entry.path().extension() == ".conf") paths.push_back(entry.path().string());
    return paths;
}

TEST_CASE("every sysconf/*.conf loads without errors") {
    std::vector<std::string> paths = shipped_configs();
    CHECK(paths.size() >= 2);  // lbd.conf and demo.conf at least
    for (const std::string& path : paths) {
        CAPTURE(path);
        ConfigLoadResult result = load_config_file(path);
        for (const ConfigError& e : result.errors) FAIL_CHECK(e.to_string());
        REQUIRE(result.config.has_value());
        CHECK_FALSE(result.config->listeners.empty());
    }
}

TEST_CASE("demo.conf matches the README demo") {
    ConfigLoadResult result = load_config_file(std::string(LBD_SOURCE_DIR) + "/sysconf/demo.conf");
    REQUIRE(result.config.has_value());
    const Config& c = *result.config;
    CHECK(c.global.workers == 2);
    REQUIRE(c.listeners.size() == 1);
    CHECK(c.listeners[0].bind.to_string() == "127.0.0.1:8080");
    const PoolConfig* pool = c.find_pool(c.listeners[0].pool);
    REQUIRE(pool != nullptr);
    CHECK(pool->balance == "round_robin");
    CHECK(pool->health_check.enabled);
    CHECK(pool->health_check.interval_ms == 1000);
    REQUIRE(pool->servers.size() == 3);
    CHECK(pool->servers[0].address.to_string() == "127.0.0.1:9001");
    CHECK(pool->servers[1].address.to_string() == "127.0.0.1:9002");
    CHECK(pool->servers[2].address.to_string() == "127.0.0.1:9003");
}

}  // namespace
}  // namespace lbd
