// The loader's checks of global.ha: defaults, and each bad value reported at
// its field's line:col.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "core/config/config_loader.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using test::all_errors;
using test::column_of;
using test::line_of;

// The lab pair's node lb-a, every optional field left out.
const char* const kHaConfig = R"(global {
  ha {
    node_id: "lb-a"
    cluster_id: "lab"
    vrrp {
      interface: "eth1"
      virtual_router_id: 51
      priority: 150
      virtual_ips: "192.168.56.10/24"
      unicast_source: "192.168.56.11"
      unicast_peers: "192.168.56.12"
    }
    sync {
      listen: "192.168.56.11:7946"
      peer: "192.168.56.12:7946"
      key_file: "/etc/lbd/sync.key"
    }
  }
}
listeners { name: "l" bind: "127.0.0.1:0" pool: "p" }
pools { name: "p" servers { name: "s1" address: "127.0.0.1:9001" } }
)";

// kHaConfig with the first `from` replaced by `to`.
std::string with(const std::string& from, const std::string& to, std::string text = kHaConfig) {
    size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    return text.replace(at, from.size(), to);
}

// Expects exactly one error, `message`, at the start of `at` in the text.
void expect_error(const std::string& text, const std::string& at, const std::string& message) {
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.errors.size() == 1);
    CHECK_FALSE(result.config.has_value());
    CHECK(result.errors[0].message == message);
    CHECK(result.errors[0].line == line_of(text, at));
    CHECK(result.errors[0].column == column_of(text, at));
}

HaConfig load_ha(const std::string& text) {
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    return result.config->global.ha;
}

TEST_CASE("ha: a valid block loads, with the schema's defaults") {
    HaConfig ha = load_ha(kHaConfig);
    CHECK(ha.enabled);
    CHECK(ha.node_id == "lb-a");
    CHECK(ha.cluster_id == "lab");
    CHECK(ha.vrrp.interface == "eth1");
    CHECK(ha.vrrp.virtual_router_id == 51);
    CHECK(ha.vrrp.priority == 150);
    CHECK(ha.vrrp.virtual_ips == std::vector<std::string>{"192.168.56.10/24"});
    CHECK(ha.vrrp.unicast_source == "192.168.56.11");
    CHECK(ha.vrrp.unicast_peers == std::vector<std::string>{"192.168.56.12"});
    CHECK(ha.vrrp.advert_interval_ms == 40);
    CHECK(ha.vrrp.track_process == VrrpConfig::TrackProcess::kAuto);
    CHECK(ha.vrrp.notify_fifo == "/run/lbd/vrrp.fifo");
    CHECK(ha.vrrp.track_file == "/run/lbd/vrrp.weight");
    CHECK(ha.vrrp.garp_refresh_s == 60);
    CHECK(ha.sync.listen.to_string() == "192.168.56.11:7946");
    CHECK(ha.sync.peer.to_string() == "192.168.56.12:7946");
    CHECK(ha.sync.key_file == "/etc/lbd/sync.key");
    CHECK(ha.sync.heartbeat_ms == 200);
}

TEST_CASE("ha: no block is a standalone node") {
    ConfigLoadResult result = load_config_text(
        "listeners { name: \"l\" bind: \"127.0.0.1:0\" pool: \"p\" }\n"
        "pools { name: \"p\" servers { name: \"s1\" address: \"127.0.0.1:9001\" } }\n",
        "test.conf");
    REQUIRE(result.config.has_value());
    CHECK_FALSE(result.config->global.ha.enabled);
}

TEST_CASE("ha: every field set; IPv6 addresses come out canonical") {
    std::string text = with("      interface: \"eth1\"\n",
                            "      interface: \"eth1\"\n"
                            "      advert_interval_ms: 100\n"
                            "      track_process: TRACK_PROCESS_OFF\n"
                            "      notify_fifo: \"/run/lbd/fifo\"\n"
                            "      track_file: \"/run/lbd/weight\"\n"
                            "      garp_refresh_s: 0\n");
    text = with("\"192.168.56.10/24\"", "\"2001:DB8:0::10/64\" virtual_ips: \"2001:db8::11/64\"", text);
    text = with("\"192.168.56.11\"", "\"2001:db8::a\"", text);
    text = with("\"192.168.56.12\"", "\"2001:db8::b\" unicast_peers: \"2001:DB8::C\"", text);
    text = with("key_file", "heartbeat_ms: 50 key_file", text);
    HaConfig ha = load_ha(text);
    CHECK(ha.vrrp.advert_interval_ms == 100);
    CHECK(ha.vrrp.track_process == VrrpConfig::TrackProcess::kOff);
    CHECK(ha.vrrp.notify_fifo == "/run/lbd/fifo");
    CHECK(ha.vrrp.track_file == "/run/lbd/weight");
    CHECK(ha.vrrp.garp_refresh_s == 0);  // written 0 = off, not the default
    CHECK(ha.vrrp.virtual_ips == std::vector<std::string>{"2001:db8::10/64", "2001:db8::11/64"});
    CHECK(ha.vrrp.unicast_source == "2001:db8::a");
    CHECK(ha.vrrp.unicast_peers == std::vector<std::string>{"2001:db8::b", "2001:db8::c"});
    CHECK(ha.sync.heartbeat_ms == 50);
}

TEST_CASE("ha: node_id and cluster_id") {
    expect_error(with("    node_id: \"lb-a\"\n", ""), "ha {", "ha has no node_id");
    expect_error(with("\"lab\"", "\"\""), "cluster_id", "ha has no cluster_id");
    expect_error(with("\"lb-a\"", "\"lb a\""), "node_id",
                 "ha node_id 'lb a' may only contain letters, digits and . _ - :");
    expect_error(with("\"lab\"", "\"lab#1\""), "cluster_id",
                 "ha cluster_id 'lab#1' may only contain letters, digits and . _ - :");
}

TEST_CASE("ha vrrp: interface") {
    expect_error(with("      interface: \"eth1\"\n", ""), "vrrp {", "ha vrrp has no interface");
    expect_error(with("\"eth1\"", "\"abcdefghijklmnop\""), "interface",
                 "ha vrrp interface 'abcdefghijklmnop' is longer than 15 characters (IFNAMSIZ)");
    CHECK(load_ha(with("\"eth1\"", "\"abcdefghijklmno\"")).vrrp.interface == "abcdefghijklmno");
    expect_error(with("\"eth1\"", "\"eth1 }\""), "interface",
                 "ha vrrp interface 'eth1 }' may only contain letters, digits and . _ -");
}

TEST_CASE("ha vrrp: virtual_router_id and priority") {
    expect_error(with("      virtual_router_id: 51\n", ""), "vrrp {", "ha vrrp has no virtual_router_id");
    expect_error(with("virtual_router_id: 51", "virtual_router_id: 0"), "virtual_router_id",
                 "ha vrrp virtual_router_id 0 out of range 1..255");
    expect_error(with("virtual_router_id: 51", "virtual_router_id: 256"), "virtual_router_id",
                 "ha vrrp virtual_router_id 256 out of range 1..255");
    CHECK(load_ha(with("virtual_router_id: 51", "virtual_router_id: 255")).vrrp.virtual_router_id == 255);
    expect_error(with("      priority: 150\n", ""), "vrrp {", "ha vrrp has no priority");
    expect_error(with("priority: 150", "priority: 255"), "priority", "ha vrrp priority 255 out of range 1..254");
    CHECK(load_ha(with("priority: 150", "priority: 1")).vrrp.priority == 1);
}

TEST_CASE("ha vrrp: virtual_ips need an explicit prefix and one family") {
    expect_error(with("      virtual_ips: \"192.168.56.10/24\"\n", ""), "vrrp {", "ha vrrp has no virtual_ips");
    const std::string two = "\"192.168.56.10/24\"\n      virtual_ips: \"192.168.56.20\"";
    expect_error(with("\"192.168.56.10/24\"", two), "virtual_ips: \"192.168.56.20\"",
                 "ha vrrp virtual_ip '192.168.56.20': expected address/prefix, e.g. 192.0.2.10/24");
    expect_error(with("/24", "/33"), "virtual_ips",
                 "ha vrrp virtual_ip '192.168.56.10/33': expected address/prefix, e.g. 192.0.2.10/24");
    expect_error(with("/24", "/"), "virtual_ips",
                 "ha vrrp virtual_ip '192.168.56.10/': expected address/prefix, e.g. 192.0.2.10/24");
    const std::string mixed = "\"192.168.56.10/24\"\n      virtual_ips: \"fd00::10/64\"";
    expect_error(with("\"192.168.56.10/24\"", mixed), "virtual_ips: \"fd00",
                 "ha vrrp virtual_ip 'fd00::10/64' is IPv6 but the first virtual IP is IPv4");
}

TEST_CASE("ha vrrp: unicast source and peers") {
    expect_error(with("      unicast_source: \"192.168.56.11\"\n", ""), "vrrp {", "ha vrrp has no unicast_source");
    expect_error(with("      unicast_peers: \"192.168.56.12\"\n", ""), "vrrp {", "ha vrrp has no unicast_peers");
    expect_error(with("\"192.168.56.11\"", "\"192.168.56.311\""), "unicast_source",
                 "ha vrrp unicast_source '192.168.56.311' is not an IP address");
    expect_error(with("\"192.168.56.11\"", "\"fd00::11\""), "unicast_source",
                 "ha vrrp unicast_source 'fd00::11' is IPv6 but the virtual IPs are IPv4");
    const std::string peers = "\"192.168.56.12\"\n      unicast_peers: \"fd00::13\"";
    expect_error(with("\"192.168.56.12\"", peers), "unicast_peers: \"fd00",
                 "ha vrrp unicast_peer 'fd00::13' is IPv6 but the virtual IPs are IPv4");
    expect_error(with("\"192.168.56.12\"", "\"192.168.56.12:7946\""), "unicast_peers",
                 "ha vrrp unicast_peer '192.168.56.12:7946' is not an IP address");
    expect_error(with("\"192.168.56.12\"", "\"192.168.56.11\""), "unicast_peers",
                 "ha vrrp unicast_peer '192.168.56.11' is this node's unicast_source");
}

TEST_CASE("ha vrrp: advert_interval_ms is 20..25500 in steps of 10") {
    for (const char* ms : {"10", "45", "25510"}) {
        CAPTURE(ms);
        expect_error(with("      priority: 150\n", "      priority: 150\n      advert_interval_ms: " + std::string(ms) +
                                                         "\n"),
                     "advert_interval_ms",
                     "ha vrrp advert_interval_ms " + std::string(ms) + " must be 20..25500 in steps of 10");
    }
    for (uint32_t ms : {20u, 40u, 110u, 25500u})
        CHECK(load_ha(with("priority: 150", "priority: 150 advert_interval_ms: " + std::to_string(ms)))
                  .vrrp.advert_interval_ms == ms);
}

// keepalived_config named a file lbd never wrote; the field went (reserved),
// and a config that still sets it loads as before: nothing depended on it.
TEST_CASE("ha vrrp: keepalived_config is gone, and an old config that sets it still loads") {
    HaConfig ha = load_ha(with("priority: 150", "priority: 150\n      keepalived_config: \"/etc/keepalived/keepalived.conf\""));
    CHECK(ha.vrrp.priority == 150);
    expect_error(with("priority: 150", "priority: 150\n      track_process: 7"), "track_process",
                 "unknown ha vrrp track_process 7");
}

TEST_CASE("ha vrrp: paths are absolute; garp_refresh_s is bounded") {
    expect_error(with("priority: 150", "priority: 150\n      notify_fifo: \"run/lbd/fifo\""), "notify_fifo",
                 "ha vrrp notify_fifo 'run/lbd/fifo' must be an absolute path");
    expect_error(with("priority: 150", "priority: 150\n      track_file: \"/run/lbd/my weight\""), "track_file",
                 "ha vrrp track_file '/run/lbd/my weight' may not contain spaces, quotes or # ! { }");
    expect_error(with("priority: 150", "priority: 150\n      garp_refresh_s: 86401"), "garp_refresh_s",
                 "ha vrrp garp_refresh_s 86401 out of range 0..86400");
}

TEST_CASE("ha sync: addresses, key file, heartbeat") {
    expect_error(with("      listen: \"192.168.56.11:7946\"\n", ""), "sync {", "ha sync has no listen address");
    expect_error(with("\"192.168.56.12:7946\"", "\"lb-b:7946\""), "peer: ",
                 "bad address 'lb-b:7946': expected host:port or [v6]:port");
    expect_error(with("\"192.168.56.12:7946\"", "\"192.168.56.12:0\""), "peer: ",
                 "ha sync peer: port 0 is not allowed");
    expect_error(with("\"192.168.56.11:7946\"", "\"0.0.0.0:7946\""), "listen: ",
                 "ha sync listen '0.0.0.0:7946' is a wildcard: name this node's (or the peer's) own address, "
                 "which the other side checks");
    expect_error(with("\"192.168.56.12:7946\"", "\"192.168.56.11:7946\""), "peer: ",
                 "ha sync peer is this node's own listen address");
    expect_error(with("      key_file: \"/etc/lbd/sync.key\"\n", ""), "sync {", "ha sync has no key_file");
    expect_error(with("\"/etc/lbd/sync.key\"", "\"sync.key\""), "key_file",
                 "ha sync key_file 'sync.key' must be an absolute path");
    expect_error(with("key_file", "heartbeat_ms: 40 key_file"), "heartbeat_ms",
                 "ha sync heartbeat_ms 40 out of range 50..10000");
    expect_error(with("key_file", "heartbeat_ms: 10001 key_file"), "heartbeat_ms",
                 "ha sync heartbeat_ms 10001 out of range 50..10000");
}

TEST_CASE("ha: missing vrrp and sync blocks are reported at the ha block") {
    const std::string text =
        "global { ha { node_id: \"lb-a\" cluster_id: \"lab\" } }\n"
        "listeners { name: \"l\" bind: \"127.0.0.1:0\" pool: \"p\" }\n"
        "pools { name: \"p\" servers { name: \"s1\" address: \"127.0.0.1:9001\" } }\n";
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    CHECK_FALSE(result.config.has_value());
    CHECK(result.errors.size() == 9);  // interface, vrid, priority, vips, source, peers; listen, peer, key_file
    for (const ConfigError& e : result.errors) {
        CHECK(e.line == 1);
        CHECK(e.column == column_of(text, "ha {"));
    }
}

}  // namespace
}  // namespace lbd
