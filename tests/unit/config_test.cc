// The config loader: text -> typed Config, and every error at file:line:col.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "core/config/config_loader.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using test::all_errors;
using test::column_of;
using test::line_of;

ConfigLoadResult load(const std::string& text) { return load_config_text(text, "test.conf"); }

// Loads `text`, expects exactly one error, and returns it.
ConfigError only_error(const std::string& text) {
    ConfigLoadResult result = load(text);
    INFO(all_errors(result));
    REQUIRE(result.errors.size() == 1);
    CHECK_FALSE(result.config.has_value());
    CHECK(result.errors[0].file == "test.conf");
    return result.errors[0];
}

// Expects exactly one error, `message`, at the start of `at` in the text.
void expect_error(const std::string& text, const std::string& at, const std::string& message) {
    ConfigError e = only_error(text);
    CHECK(e.message == message);
    CHECK(e.line == line_of(text, at));
    CHECK(e.column == column_of(text, at));
}

// A valid config with one listener and one pool, with extra fields spliced
// into the listener, the pool and its server.
std::string config_with(const std::string& listener = "", const std::string& pool = "",
                        const std::string& server = "") {
    return "listeners {\n"
           "  name: \"l\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  pool: \"p\"\n" +
           listener +
           "}\n"
           "pools {\n"
           "  name: \"p\"\n"
           "  servers { name: \"s1\" address: \"127.0.0.1:9001\" " +
           server + " }\n" + pool + "}\n";
}

const char* const kFullConfig = R"(# every field set
global {
  workers: 3
  log_level: LOG_LEVEL_WARNING
  drain_timeout_ms: 1500
  log_connections: false
}
listeners {
  name: "front"
  bind: "[::1]:8443"
  mode: MODE_TCP
  pool: "web"
  accept_proxy {
    trusted_sources: "10.0.0.0/8"
    trusted_sources: "::1"
    header_timeout_ms: 250
  }
  max_connections: 1000
  idle_timeout_ms: 60000
  backlog: 64
  freebind: true
}
listeners {
  name: "plain"
  bind: "127.0.0.1:8080"
  pool: "api"
}
pools {
  name: "web"
  balance: "maglev"
  servers { name: "a" address: "10.1.0.1:80" weight: 5 max_connections: 100 }
  servers { name: "b" address: "[fd00::2]:8080" admin_state: ADMIN_STATE_DRAIN }
  servers { name: "c" address: "10.1.0.3:80" admin_state: ADMIN_STATE_MAINT }
  send_proxy: PROXY_PROTOCOL_V2
  health_check { interval_ms: 500 timeout_ms: 400 rise: 4 fall: 5 start_down: true }
  passive_health { max_fails: 7 fail_timeout_ms: 2000 }
  stickiness { ttl_ms: 60000 capacity: 10 }
  retries: 4
  connect_timeout_ms: 900
  queue_size: 32
  queue_timeout_ms: 700
  maglev_table_size: 251
}
pools {
  name: "api"
  servers { name: "x" address: "127.0.0.1:9000" }
  retries_disabled: true
}
)";

TEST_CASE("a full config loads into typed values") {
    ConfigLoadResult result = load(kFullConfig);
    INFO(all_errors(result));
    REQUIRE(result.errors.empty());
    REQUIRE(result.config.has_value());
    const Config& c = *result.config;
    CHECK(c.source_path == "test.conf");

    CHECK(c.global.workers == 3);
    CHECK(c.global.log_level == LogLevel::kWarning);
    CHECK(c.global.drain_timeout_ms == 1500);
    CHECK(c.global.log_connections == false);

    REQUIRE(c.listeners.size() == 2);
    const ListenerConfig& front = c.listeners[0];
    CHECK(front.name == "front");
    CHECK(front.bind.to_string() == "[::1]:8443");
    CHECK(front.mode == ListenerMode::kTcp);
    CHECK(front.pool == "web");
    CHECK(front.accept_proxy.enabled);
    REQUIRE(front.accept_proxy.trusted_sources.size() == 2);
    CHECK(front.accept_proxy.trusted_sources[0].to_string() == "10.0.0.0/8");
    CHECK(front.accept_proxy.trusted_sources[1].to_string() == "::1/128");
    CHECK(front.accept_proxy.header_timeout_ms == 250);
    CHECK(front.max_connections == 1000);
    CHECK(front.idle_timeout_ms == 60000);
    CHECK(front.backlog == 64);
    CHECK(front.freebind);
    CHECK_FALSE(c.listeners[1].accept_proxy.enabled);

    REQUIRE(c.pools.size() == 2);
    const PoolConfig& web = c.pools[0];
    CHECK(web.name == "web");
    CHECK(web.balance == "maglev");
    REQUIRE(web.servers.size() == 3);
    CHECK(web.servers[0].name == "a");
    CHECK(web.servers[0].address.to_string() == "10.1.0.1:80");
    CHECK(web.servers[0].weight == 5);
    CHECK(web.servers[0].max_connections == 100);
    CHECK(web.servers[0].admin_state == AdminState::kReady);
    CHECK(web.servers[1].address.to_string() == "[fd00::2]:8080");
    CHECK(web.servers[1].weight == 1);
    CHECK(web.servers[1].admin_state == AdminState::kDrain);
    CHECK(web.servers[2].admin_state == AdminState::kMaint);
    CHECK(web.send_proxy == ProxyProtocolVersion::kV2);
    CHECK(web.health_check.enabled);
    CHECK(web.health_check.interval_ms == 500);
    CHECK(web.health_check.timeout_ms == 400);
    CHECK(web.health_check.rise == 4);
    CHECK(web.health_check.fall == 5);
    CHECK(web.health_check.start_down);
    CHECK(web.passive_health.enabled);
    CHECK(web.passive_health.max_fails == 7);
    CHECK(web.passive_health.fail_timeout_ms == 2000);
    CHECK(web.stickiness.enabled);
    CHECK(web.stickiness.ttl_ms == 60000);
    CHECK(web.stickiness.capacity == 10);
    CHECK(web.retries == 4);
    CHECK(web.connect_timeout_ms == 900);
    CHECK(web.queue_size == 32);
    CHECK(web.queue_timeout_ms == 700);
    CHECK(web.maglev_table_size == 251);

    CHECK(c.pools[1].retries == 0);  // retries_disabled
    CHECK(c.find_pool("api") == &c.pools[1]);
    CHECK(c.find_pool("web") == &c.pools[0]);
    CHECK(c.find_pool("nope") == nullptr);
}

TEST_CASE("fields left out take the schema's defaults") {
    ConfigLoadResult result = load(config_with());
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    const Config& c = *result.config;

    unsigned cpus = std::thread::hardware_concurrency();
    CHECK(c.global.workers == (cpus == 0 ? 1 : std::min(cpus, 256u)));
    CHECK(c.global.log_level == LogLevel::kInfo);
    CHECK(c.global.drain_timeout_ms == 30000);
    CHECK(c.global.log_connections == true);
    CHECK(c.global.memory_release_idle_ms == 5000);

    const ListenerConfig& l = c.listeners.at(0);
    CHECK(l.bind.to_string() == "127.0.0.1:0");
    CHECK(l.mode == ListenerMode::kTcp);
    CHECK_FALSE(l.accept_proxy.enabled);
    CHECK(l.max_connections == 0);
    CHECK(l.idle_timeout_ms == 300000);
    CHECK(l.backlog == 1024);
    CHECK_FALSE(l.freebind);

    const PoolConfig& p = c.pools.at(0);
    CHECK(p.balance == "round_robin");
    CHECK(p.servers.at(0).weight == 1);
    CHECK(p.servers.at(0).max_connections == 0);
    CHECK(p.servers.at(0).admin_state == AdminState::kReady);
    CHECK(p.send_proxy == ProxyProtocolVersion::kNone);
    CHECK_FALSE(p.health_check.enabled);
    CHECK_FALSE(p.passive_health.enabled);
    CHECK_FALSE(p.stickiness.enabled);
    CHECK(p.retries == 2);
    CHECK(p.connect_timeout_ms == 3000);
    CHECK(p.queue_size == 0);
    CHECK(p.queue_timeout_ms == 5000);
    CHECK(p.maglev_table_size == 65537);
}

TEST_CASE("empty sub-messages turn their feature on with defaults") {
    ConfigLoadResult result =
        load(config_with("  accept_proxy {}\n", "  health_check {}\n  passive_health {}\n  stickiness {}\n"));
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    const AcceptProxyConfig& ap = result.config->listeners.at(0).accept_proxy;
    CHECK(ap.enabled);
    CHECK(ap.trusted_sources.empty());
    CHECK(ap.header_timeout_ms == 5000);
    const PoolConfig& p = result.config->pools.at(0);
    CHECK(p.health_check.enabled);
    CHECK(p.health_check.interval_ms == 2000);
    CHECK(p.health_check.timeout_ms == 1000);
    CHECK(p.health_check.rise == 2);
    CHECK(p.health_check.fall == 3);
    CHECK_FALSE(p.health_check.start_down);
    CHECK(p.passive_health.enabled);
    CHECK(p.passive_health.max_fails == 3);
    CHECK(p.passive_health.fail_timeout_ms == 10000);
    CHECK(p.stickiness.enabled);
    CHECK(p.stickiness.ttl_ms == 1800000);
    CHECK(p.stickiness.capacity == 100000);
}

// --- syntax errors: the parser's position ---

TEST_CASE("an unknown field name is reported at its line") {
    std::string text = config_with("  pol: \"x\"\n");
    ConfigError e = only_error(text);
    CHECK(e.line == line_of(text, "pol:"));
    CHECK(e.column > 0);
    CHECK(e.message.find("no field named \"pol\"") != std::string::npos);
}

TEST_CASE("a missing closing brace is reported at the end of the file") {
    std::string text = "listeners {\n  name: \"l\"\n  bind: \"127.0.0.1:0\"\n";
    ConfigError e = only_error(text);
    CHECK(e.line == 4);
    CHECK(e.column == 1);
    CHECK(e.message.find("end of file") != std::string::npos);
}

TEST_CASE("a value of the wrong type is reported at its line and column") {
    std::string text = "global {\n  workers: \"two\"\n}\n";
    ConfigError e = only_error(text);
    CHECK(e.line == 2);
    CHECK(e.column == column_of(text, "\"two\""));
}

TEST_CASE("an unknown enum value name is a syntax error") {
    std::string text = "global { log_level: LOG_LEVEL_LOUD }\n";
    ConfigError e = only_error(text);
    CHECK(e.line == 1);
    CHECK(e.message.find("LOG_LEVEL_LOUD") != std::string::npos);
}

// --- semantic errors: the offending field's position ---

TEST_CASE("global settings are checked") {
    std::string text = "global {\n  workers: 1000\n}\n" + config_with();
    expect_error(text, "workers: 1000", "workers 1000 out of range 0..256 (0 = one per CPU)");

    text = "global { log_level: 9 }\n" + config_with();
    expect_error(text, "log_level: 9", "unknown log_level 9");

    // Shorter periods would only wake the workers; 0 turns the release off.
    text = "global { memory_release_idle_ms: 50 }\n" + config_with();
    expect_error(text, "memory_release_idle_ms: 50", "memory_release_idle_ms 50 is below 100 (0 = never)");
    ConfigLoadResult off = load("global { memory_release_idle_ms: 0 }\n" + config_with());
    REQUIRE(off.config.has_value());
    CHECK(off.config->global.memory_release_idle_ms == 0);

    // Users and groups are looked up at check time, as at start (lbd -t runs before each start).
    text = "global { user: \"no-such-user-lbd\" }\n" + config_with();
    expect_error(text, "user:", "user 'no-such-user-lbd': no such user");
    text = "global { group: \"no-such-group-lbd\" }\n" + config_with();
    expect_error(text, "group:", "group 'no-such-group-lbd': no such group");
    text = "global { admin { socket_path: \"/run/x.sock\" socket_group: \"no-such-group-lbd\" } }\n" + config_with();
    expect_error(text, "socket_group:", "admin socket_group 'no-such-group-lbd': no such group");
    ConfigLoadResult root = load("global { user: \"nobody\" group: \"nogroup\" admin { socket_group: \"root\" } }\n" +
                                 config_with());
    INFO(all_errors(root));
    CHECK(root.config.has_value());
}

TEST_CASE("a config without listeners is refused") {
    ConfigError e = only_error("pools { name: \"p\" servers { name: \"s\" address: \"127.0.0.1:1\" } }\n");
    CHECK(e.message == "no listeners defined");
    CHECK(e.line == 0);
}

TEST_CASE("listener errors") {
    SUBCASE("duplicate name") {
        std::string text = config_with() + "listeners {\n  name: \"l\"\n  bind: \"127.0.0.1:0\"\n  pool: \"p\"\n}\n";
        ConfigError e = only_error(text);
        CHECK(e.message == "duplicate listener name 'l' (first defined at line 2)");
        CHECK(e.line == 11);
        CHECK(e.column == 3);
    }
    SUBCASE("missing name") {
        std::string text = "listeners {\n  bind: \"127.0.0.1:0\"\n  pool: \"p\"\n}\n" + config_with();
        expect_error(text, "listeners {", "listener has no name");
    }
    SUBCASE("name with a space") {
        std::string text = "listeners {\n  name: \"a b\"\n  bind: \"127.0.0.1:0\"\n  pool: \"p\"\n}\n" + config_with();
        expect_error(text, "name: \"a b\"", "listener name 'a b' may only contain letters, digits and . _ - :");
    }
    SUBCASE("bad bind address") {
        for (const char* bad : {"nope", "127.0.0.1", "::1:80", "1.2.3.4:99999", "host.example:80"}) {
            CAPTURE(bad);
            std::string text = "listeners {\n  name: \"x\"\n  bind: \"" + std::string(bad) +
                               "\"\n  pool: \"p\"\n}\n" + config_with();
            expect_error(text, "bind:", "bad address '" + std::string(bad) + "': expected host:port or [v6]:port");
        }
    }
    SUBCASE("bind \":PORT\" is every IPv4 address") {
        ConfigLoadResult result = load("listeners {\n  name: \"x\"\n  bind: \":8080\"\n  pool: \"p\"\n}\n" +
                                       config_with().substr(config_with().find("pools {")));
        INFO(all_errors(result));
        REQUIRE(result.config.has_value());
        CHECK(result.config->listeners[0].bind.to_string() == "0.0.0.0:8080");
    }
    SUBCASE("missing bind") {
        std::string text = "listeners {\n  name: \"x\"\n  pool: \"p\"\n}\n" + config_with();
        expect_error(text, "listeners {", "listener 'x' has no bind address");
    }
    SUBCASE("unknown pool") {
        std::string text = "listeners {\n  name: \"x\"\n  bind: \"127.0.0.1:0\"\n  pool: \"nope\"\n}\n" + config_with();
        expect_error(text, "pool: \"nope\"", "listener 'x' refers to unknown pool 'nope'");
    }
    SUBCASE("missing pool") {
        std::string text = "listeners {\n  name: \"x\"\n  bind: \"127.0.0.1:0\"\n}\n" + config_with();
        expect_error(text, "listeners {", "listener 'x' has no pool");
    }
    SUBCASE("an http block on a TCP listener") {
        std::string text = config_with("  http {\n    hide_server_headers: true\n  }\n");
        expect_error(text, "http {", "listener 'l': an http block needs mode: MODE_HTTP");
    }
    SUBCASE("two listeners on one address and port") {
        std::string text = "listeners {\n  name: \"a\"\n  bind: \"127.0.0.1:8080\"\n  pool: \"p\"\n}\n"
                           "listeners {\n  name: \"b\"\n  bind: \"127.0.0.1:8080\"\n  pool: \"p\"\n}\n" +
                           config_with();
        ConfigError e = only_error(text);
        CHECK(e.message == "listener 'b': address 127.0.0.1:8080 is already used by listener 'a' (line 3)");
        CHECK(e.line == 8);
        CHECK(e.column == 3);
    }
    SUBCASE("bad trusted source") {
        std::string text = config_with("  accept_proxy {\n    trusted_sources: \"10.0.0.0/33\"\n  }\n");
        expect_error(text, "trusted_sources:",
                     "bad CIDR '10.0.0.0/33': expected address/prefix, e.g. 10.0.0.0/8 or ::1/128");
    }
}

TEST_CASE("two listeners on port 0, or on different addresses, are fine") {
    std::string text = config_with() + "listeners { name: \"b\" bind: \"127.0.0.1:0\" pool: \"p\" }\n" +
                       "listeners { name: \"c\" bind: \"127.0.0.2:80\" pool: \"p\" }\n" +
                       "listeners { name: \"d\" bind: \"127.0.0.1:80\" pool: \"p\" }\n";
    ConfigLoadResult result = load(text);
    INFO(all_errors(result));
    CHECK(result.errors.empty());
}

TEST_CASE("pool errors") {
    SUBCASE("missing name") {
        std::string text = config_with() + "pools {\n  servers { name: \"s\" address: \"127.0.0.1:1\" }\n}\n";
        ConfigError e = only_error(text);
        CHECK(e.message == "pool has no name");
        CHECK(e.line == 10);
    }
    SUBCASE("duplicate name") {
        std::string text =
            config_with() + "pools {\n  name: \"p\"\n  servers { name: \"s\" address: \"127.0.0.1:1\" }\n}\n";
        ConfigError e = only_error(text);
        CHECK(e.message == "duplicate pool name 'p' (first defined at line 7)");
        CHECK(e.line == 11);
    }
    SUBCASE("unknown balance") {
        std::string text = config_with("", "  balance: \"random\"\n");
        ConfigError e = only_error(text);
        CHECK(e.line == line_of(text, "balance:"));
        CHECK(e.message.find("unknown balance 'random' (known: ") == 0);
        for (const char* known : {"least_conn", "maglev", "round_robin", "source_hash"})
            CHECK(e.message.find(known) != std::string::npos);
    }
    SUBCASE("no servers") {
        std::string text = config_with() + "pools {\n  name: \"empty\"\n}\n";
        ConfigError e = only_error(text);
        CHECK(e.message == "pool 'empty' has no servers");
        CHECK(e.line == 10);
    }
    SUBCASE("health check timeout longer than the interval") {
        std::string text = config_with("", "  health_check {\n    interval_ms: 1000\n    timeout_ms: 1500\n  }\n");
        expect_error(text, "timeout_ms:", "health_check timeout_ms 1500 exceeds interval_ms 1000");
    }
    SUBCASE("health check interval below the default timeout") {
        std::string text = config_with("", "  health_check { interval_ms: 500 }\n");
        expect_error(text, "interval_ms:", "health_check timeout_ms 1000 exceeds interval_ms 500");
    }
    SUBCASE("maglev table size must be a prime >= 101") {
        for (const char* size : {"65536", "97", "100", "4294967291"}) {
            CAPTURE(size);
            std::string text = config_with("", "  balance: \"maglev\"\n  maglev_table_size: " + std::string(size) + "\n");
            expect_error(text, "maglev_table_size:",
                         "maglev_table_size " + std::string(size) + " must be a prime in 101..16777216");
        }
    }
    SUBCASE("maglev table size is checked whatever the balance") {
        std::string text = config_with("", "  maglev_table_size: 1000\n");
        expect_error(text, "maglev_table_size:", "maglev_table_size 1000 must be a prime in 101..16777216");
    }
    SUBCASE("retries with retries_disabled") {
        std::string text = config_with("", "  retries: 3\n  retries_disabled: true\n");
        expect_error(text, "retries: 3", "retries and retries_disabled are both set");
    }
}

TEST_CASE("server errors") {
    SUBCASE("missing name") {
        std::string text = config_with("", "  servers { address: \"127.0.0.1:2\" }\n");
        expect_error(text, "servers { address", "server has no name");
    }
    SUBCASE("duplicate name within the pool") {
        std::string text = config_with("", "  servers {\n    name: \"s1\"\n    address: \"127.0.0.1:2\"\n  }\n");
        ConfigError e = only_error(text);
        CHECK(e.message == "duplicate server name 's1' in pool 'p' (first defined at line 8)");
        CHECK(e.line == 10);
        CHECK(e.column == 5);
    }
    SUBCASE("the same server name in two pools is fine") {
        std::string text = config_with() + "pools { name: \"q\" servers { name: \"s1\" address: \"127.0.0.1:2\" } }\n";
        ConfigLoadResult result = load(text);
        INFO(all_errors(result));
        CHECK(result.errors.empty());
    }
    SUBCASE("bad address") {
        // Not a host name either ('_'): neither ip:port nor name:port.
        std::string text = config_with("", "  servers { name: \"s2\" address: \"local_host:80\" }\n");
        expect_error(text, "address: \"local_host", "bad address 'local_host:80': expected host:port or [v6]:port");
    }
    SUBCASE("a name is resolved at load (localhost: /etc/hosts)") {
        ConfigLoadResult result = load(config_with("", "  servers { name: \"s2\" address: \"localhost:80\" }\n"));
        INFO(all_errors(result));
        REQUIRE(result.config.has_value());
        const ServerConfig& s2 = result.config->pools[0].servers[1];
        CHECK(s2.host == "localhost");
        CHECK(s2.address.to_string() == "127.0.0.1:80");
        CHECK(s2.resolve_interval_ms == 30000);
        CHECK_FALSE(s2.unresolved);
    }
    SUBCASE("resolve on an ip:port address") {
        std::string text = config_with("", "  servers { name: \"s2\" address: \"127.0.0.1:80\" resolve { optional: true } }\n");
        expect_error(text, "resolve {", "resolve is only for an address given by name (name:port)");
    }
    SUBCASE("resolve interval too short") {
        std::string text =
            config_with("", "  servers { name: \"s2\" address: \"localhost:80\" resolve { interval_ms: 10 } }\n");
        expect_error(text, "interval_ms", "resolve interval_ms 10 is below 100");
    }
    SUBCASE("bad nameserver") {
        std::string text = "global { resolvers { nameservers: \"dns.example\" } }\n" + config_with();
        expect_error(text, "nameservers", "bad nameserver 'dns.example': expected ip:port, e.g. 10.0.0.53:53");
    }
    SUBCASE("missing address") {
        std::string text = config_with("", "  servers { name: \"s2\" }\n");
        expect_error(text, "servers { name: \"s2\"", "server 's2' has no address");
    }
    SUBCASE("port 0") {
        std::string text = config_with("", "  servers { name: \"s2\" address: \"127.0.0.1:0\" }\n");
        expect_error(text, "address: \"127.0.0.1:0\"", "server 's2': port 0 is not allowed in a server address");
    }
    SUBCASE("weight out of range") {
        expect_error(config_with("", "", "weight: 257"), "weight:", "weight 257 out of range 1..256");
        // Left out, weight is 1; written as 0 it is refused (drain instead).
        expect_error(config_with("", "", "weight: 0"), "weight:", "weight 0 out of range 1..256");
        ConfigLoadResult result = load(config_with("", "", "weight: 256"));
        REQUIRE(result.config.has_value());
        CHECK(result.config->pools[0].servers[0].weight == 256);
    }
}

TEST_CASE("every error is reported, in text order") {
    std::string text = R"(global { workers: 999 }
listeners {
  name: "a"
  bind: "bogus"
  pool: "missing"
}
pools {
  name: "p"
  balance: "fastest"
  servers { name: "s" address: "127.0.0.1:1" weight: 1000 }
  servers { name: "s" address: "127.0.0.1:2" }
}
)";
    ConfigLoadResult result = load(text);
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 6);
    const int expected_lines[] = {1, 4, 5, 9, 10, 11};
    for (size_t i = 0; i < 6; ++i) {
        CAPTURE(result.errors[i].to_string());
        CHECK(result.errors[i].line == expected_lines[i]);
    }
    CHECK(result.errors[0].to_string() == "test.conf:1:10: workers 999 out of range 0..256 (0 = one per CPU)");
    CHECK(result.errors[1].message == "bad address 'bogus': expected host:port or [v6]:port");
    CHECK(result.errors[2].message == "listener 'a' refers to unknown pool 'missing'");
    CHECK(result.errors[3].message.find("unknown balance 'fastest'") == 0);
    CHECK(result.errors[4].message == "weight 1000 out of range 1..256");
    CHECK(result.errors[5].message == "duplicate server name 's' in pool 'p' (first defined at line 10)");
}

TEST_CASE("list syntax works and keeps positions per element") {
    std::string text = "listeners: [{ name: \"a\" bind: \"127.0.0.1:0\" pool: \"p\" },\n"
                       "            { name: \"b\" bind: \"127.0.0.1:0\" pool: \"zz\" }]\n" +
                       std::string("pools { name: \"p\" servers: [{ name: \"s\" address: \"127.0.0.1:1\" }] }\n");
    ConfigError e = only_error(text);
    CHECK(e.message == "listener 'b' refers to unknown pool 'zz'");
    CHECK(e.line == 2);
    CHECK(e.column == column_of(text, "pool: \"zz\""));
}

// --- files and sockets ---

TEST_CASE("ConfigError::to_string") {
    CHECK(ConfigError{"lbd.conf", 12, 7, "bad thing"}.to_string() == "lbd.conf:12:7: bad thing");
    CHECK(ConfigError{"lbd.conf", 12, 0, "bad thing"}.to_string() == "lbd.conf:12: bad thing");
    CHECK(ConfigError{"lbd.conf", 0, 0, "No such file or directory"}.to_string() ==
          "lbd.conf: No such file or directory");
}

TEST_CASE("load_config_file reads a file and names it in errors") {
    char path[] = "/tmp/lbd_config_test_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    std::string text = config_with("", "", "weight: 300");
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);

    ConfigLoadResult result = load_config_file(path);
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].to_string() ==
          std::string(path) + ":" + std::to_string(line_of(text, "weight")) + ":" +
              std::to_string(column_of(text, "weight")) + ": weight 300 out of range 1..256");

    fd = open(path, O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0);
    text = config_with();
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    result = load_config_file(path);
    CHECK(result.errors.empty());
    REQUIRE(result.config.has_value());
    CHECK(result.config->source_path == path);
    unlink(path);
}

TEST_CASE("an unreadable file is one error without a line") {
    ConfigLoadResult result = load_config_file("/nonexistent/lbd.conf");
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].line == 0);
    CHECK(result.errors[0].to_string() == std::string("/nonexistent/lbd.conf: ") + std::strerror(ENOENT));

    result = load_config_file("/tmp");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message == std::strerror(EISDIR));
}

TEST_CASE("check_listeners_bindable reports a port already in use") {
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(holder >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(holder, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::string port = std::to_string(ntohs(addr.sin_port));

    std::string text = "listeners { name: \"taken\" bind: \"127.0.0.1:" + port +
                       "\" pool: \"p\" }\n"
                       "listeners { name: \"any\" bind: \"127.0.0.1:0\" pool: \"p\" }\n" +
                       "pools { name: \"p\" servers { name: \"s\" address: \"127.0.0.1:1\" } }\n";
    ConfigLoadResult result = load(text);
    REQUIRE(result.config.has_value());

    std::vector<ConfigError> errors = check_listeners_bindable(*result.config);
    REQUIRE(errors.size() == 1);
    // At the bind field: line 1, column 27 (where `bind:` is written).
    CHECK(errors[0].to_string() == "test.conf:1:27: listener 'taken': address 127.0.0.1:" + port + " is already in use");

    close(holder);
    CHECK(check_listeners_bindable(*result.config).empty());
}

TEST_CASE("check_listeners_bindable reports other bind errors with strerror") {
    // 192.0.2.1 (TEST-NET-1) is not on this host: refused without freebind.
    std::string text = "listeners { name: \"vip\" bind: \"192.0.2.1:8080\" pool: \"p\" }\n"
                       "pools { name: \"p\" servers { name: \"s\" address: \"127.0.0.1:1\" } }\n";
    ConfigLoadResult result = load(text);
    REQUIRE(result.config.has_value());
    std::vector<ConfigError> errors = check_listeners_bindable(*result.config);
    if (errors.empty()) {
        MESSAGE("this host binds foreign addresses (net.ipv4.ip_nonlocal_bind=1): nothing to check");
        return;
    }
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message ==
          std::string("listener 'vip': cannot bind 192.0.2.1:8080: ") + std::strerror(EADDRNOTAVAIL));

    result.config->listeners[0].freebind = true;
    CHECK(check_listeners_bindable(*result.config).empty());
}

}  // namespace
}  // namespace lbd
