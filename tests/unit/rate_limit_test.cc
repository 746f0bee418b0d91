// Rate limiting: the GCRA counting of a zone (core/state/rate_limiter.h), zones
// handed over by a reload, the loader's checks (l7/config/config_rate_limit.cc)
// and what a request's key is (l7/rate_limit.h).
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "core/state/rate_limiter.h"
#include "l7/rate_limit.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using test::all_errors;
using test::line_of;

HttpRateLimitZoneConfig zone_config(uint32_t requests, uint32_t period_ms, uint32_t burst, uint32_t capacity = 1000) {
    HttpRateLimitZoneConfig c;
    c.name = "z";
    c.requests = requests;
    c.period_ms = period_ms;
    c.burst = burst;
    c.capacity = capacity;
    return c;
}

constexpr uint64_t kStart = 1'000'000'000;  // any monotonic origin

TEST_CASE("a zone lets burst + 1 requests through at once, then one per interval") {
    RateLimitZone zone(zone_config(10, 1000, 5));  // T = 100 ms, tau = 500 ms
    for (int i = 0; i < 6; ++i) CHECK(zone.check("a", kStart).allowed);
    RateDecision refused = zone.check("a", kStart);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after_us == 100'000);
    // A refused request costs nothing: 99 ms later it is still 1 ms early.
    refused = zone.check("a", kStart + 99'000);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after_us == 1'000);
    CHECK(zone.check("a", kStart + 100'000).allowed);
    CHECK_FALSE(zone.check("a", kStart + 100'000).allowed);
    // Another key has its own allowance.
    CHECK(zone.check("b", kStart).allowed);
    CHECK(zone.allowed() == 8);
    CHECK(zone.refused() == 3);
}

TEST_CASE("offered faster than the rate for a long time, a zone passes the rate plus the burst") {
    RateLimitZone zone(zone_config(20, 1000, 10));
    int passed = 0;
    // 100 requests/s offered for 10 s.
    for (uint64_t t = 0; t < 10'000'000; t += 10'000) passed += zone.check("k", kStart + t).allowed ? 1 : 0;
    CHECK(passed >= 200 + 10);
    CHECK(passed <= 200 + 10 + 1);
}

TEST_CASE("an idle key regains its whole burst, and no more") {
    RateLimitZone zone(zone_config(1, 1000, 2));
    for (int i = 0; i < 3; ++i) CHECK(zone.check("k", kStart).allowed);
    CHECK_FALSE(zone.check("k", kStart).allowed);
    const uint64_t later = kStart + 60'000'000;  // a minute of silence
    for (int i = 0; i < 3; ++i) CHECK(zone.check("k", later).allowed);
    CHECK_FALSE(zone.check("k", later).allowed);
}

TEST_CASE("capacity bounds the keys; the least recently seen is forgotten first") {
    RateLimitZone zone(zone_config(1, 1000, 0, 2), /*shard_count=*/1);
    CHECK(zone.check("a", kStart).allowed);
    CHECK(zone.check("b", kStart).allowed);
    CHECK_FALSE(zone.check("a", kStart).allowed);  // a is now the most recent
    CHECK(zone.check("c", kStart).allowed);         // forgets b
    CHECK(zone.size() == 2);
    CHECK(zone.check("b", kStart).allowed);          // b starts over (forgets a)
    CHECK(zone.check("a", kStart).allowed);
}

std::string listener_config(const std::string& zones) {
    return "listeners { name: \"web\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"p\"\n"
           "  http {\n" + zones + "  }\n}\n"
           "pools { name: \"p\" servers { name: \"s1\" address: \"127.0.0.1:9001\" } }\n";
}

Config load(const std::string& text) {
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    return std::move(*result.config);
}

TEST_CASE("a reload keeps an unchanged zone's counters and resets a changed one") {
    const std::string same = "    rate_limit_zones { name: \"same\" requests: 1 }\n";
    Config first = load(listener_config(same + "    rate_limit_zones { name: \"edit\" requests: 1 }\n"));
    RateLimitZones before(first, nullptr);
    RateLimitZone* kept = before.find("web", "same");
    RateLimitZone* edited = before.find("web", "edit");
    REQUIRE(kept != nullptr);
    REQUIRE(edited != nullptr);
    CHECK(before.find("web", "nope") == nullptr);
    CHECK(before.find("other", "same") == nullptr);

    Config second = load(listener_config(same + "    rate_limit_zones { name: \"edit\" requests: 2 }\n"));
    RateLimitZones after(second, &before);
    CHECK(after.find("web", "same") == kept);
    CHECK(after.find("web", "edit") != edited);
    CHECK(after.find("web", "edit")->config().requests == 2);
}

TEST_CASE("rate-limit zones are typed, with defaults") {
    Config config = load(listener_config(
        "    rate_limit_zones { name: \"per-ip\" requests: 10 burst: 20 }\n"
        "    rate_limit_zones { name: \"per-key\" key: RATE_LIMIT_KEY_HEADER header: \"X-Api-Key\"\n"
        "                       requests: 100 period_ms: 60000 capacity: 5000 ipv6_prefix_length: 56 status: 503 }\n"
        "    rate_limits: \"per-ip\"\n"
        "    routes { match { path_prefix: \"/api/\" } pool: \"p\" rate_limits: \"per-key\" }\n"));
    const HttpConfig& http = config.listeners.at(0).http;
    REQUIRE(http.rate_limit_zones.size() == 2);
    const HttpRateLimitZoneConfig& ip = http.rate_limit_zones[0];
    CHECK(ip.key == HttpRateLimitKey::kClientIp);
    CHECK(ip.period_ms == 1000);
    CHECK(ip.burst == 20);
    CHECK(ip.capacity == 100000);
    CHECK(ip.ipv6_prefix_length == 64);
    CHECK(ip.status == 429);
    const HttpRateLimitZoneConfig& key = http.rate_limit_zones[1];
    CHECK(key.key == HttpRateLimitKey::kHeader);
    CHECK(key.header == "x-api-key");
    CHECK(key.period_ms == 60000);
    CHECK(key.status == 503);
    CHECK(http.rate_limits == std::vector<std::string>{"per-ip"});
    CHECK(http.routes.at(0).rate_limits == std::vector<std::string>{"per-key"});
}

void expect_error(const std::string& zones, const std::string& at, const std::string& message) {
    const std::string text = listener_config(zones);
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message == message);
    CHECK(result.errors[0].line == line_of(text, at));
}

TEST_CASE("rate-limit errors name the line of the field at fault") {
    expect_error("    rate_limit_zones {\n name: \"z\"\n }\n", "rate_limit_zones {",
                 "rate-limit zone 'z' needs requests > 0");
    expect_error("    rate_limit_zones { name: \"z\" requests: 1\n status: 404 }\n", "status: 404",
                 "rate-limit zone 'z': status 404 must be 429 or 503");
    expect_error("    rate_limit_zones { name: \"z\" requests: 1\n key: RATE_LIMIT_KEY_HEADER }\n",
                 "key: RATE_LIMIT_KEY_HEADER", "rate-limit zone 'z': key HEADER needs `header`");
    // A header name that is not a token can never match a request's field (RFC 9110 §5.6.2).
    expect_error("    rate_limit_zones { name: \"z\" requests: 1 key: RATE_LIMIT_KEY_HEADER\n header: \"X Api\" }\n",
                 "header: \"X Api\"", "rate-limit zone 'z': bad header name 'X Api'");
    expect_error("    rate_limit_zones { name: \"z\" requests: 1 }\n    rate_limit_zones { name: \"z\" requests: 2 }\n",
                 "name: \"z\" requests: 2", "duplicate rate-limit zone name 'z' (first defined at line 3)");
    expect_error("    rate_limit_zones { name: \"z\" requests: 2000000 }\n", "requests: 2000000",
                 "rate-limit zone 'z': more than one request per microsecond is no limit; raise period_ms or lower "
                 "requests");
    expect_error("    rate_limits: \"nope\"\n", "rate_limits: \"nope\"",
                 "unknown rate-limit zone 'nope' (define it in this listener's http.rate_limit_zones)");
    expect_error("    rate_limit_zones { name: \"z\" requests: 1 }\n"
                 "    routes { pool: \"p\"\n rate_limits: \"z\"\n rate_limits: \"z\" }\n",
                 "rate_limits: \"z\" }", "rate-limit zone 'z' listed twice");
}

l7::RequestInfo request_with(const l7::HeaderList& headers) {
    l7::RequestInfo request;
    request.headers = headers;
    return request;
}

SocketAddress addr(const std::string& text) { return *SocketAddress::parse(text); }

TEST_CASE("a request's key: the client address, behind trusted proxies too, or a header") {
    HttpRateLimitZoneConfig by_ip = zone_config(1, 1000, 0);
    HttpForwardedConfig forwarded;
    const l7::RequestInfo plain = request_with({});
    CHECK(l7::rate_limit_key(by_ip, forwarded, plain, addr("192.0.2.7:5000")) == std::string("\xc0\x00\x02\x07", 4));
    // IPv6: one key per /64 by default, per address at 128.
    const std::string v6a = l7::rate_limit_key(by_ip, forwarded, plain, addr("[2001:db8::1]:1"));
    const std::string v6b = l7::rate_limit_key(by_ip, forwarded, plain, addr("[2001:db8::2:3]:1"));
    CHECK(v6a.size() == 16);
    CHECK(v6a == v6b);
    by_ip.ipv6_prefix_length = 128;
    CHECK(l7::rate_limit_key(by_ip, forwarded, plain, addr("[2001:db8::1]:1")) !=
          l7::rate_limit_key(by_ip, forwarded, plain, addr("[2001:db8::2:3]:1")));
    // An IPv4-mapped peer counts as its IPv4 address.
    CHECK(l7::rate_limit_key(by_ip, forwarded, plain, addr("[::ffff:192.0.2.7]:1")) ==
          std::string("\xc0\x00\x02\x07", 4));

    // X-Forwarded-For counts only from a trusted proxy, read from the right.
    const l7::RequestInfo via_proxies =
        request_with({{"X-Forwarded-For", "203.0.113.66, 198.51.100.1"}, {"x-forwarded-for", "10.0.0.2"}});
    CHECK(l7::rate_limit_key(by_ip, forwarded, via_proxies, addr("10.0.0.1:1")) ==
          std::string("\x0a\x00\x00\x01", 4));
    forwarded.trusted_proxies = {*Cidr::parse("10.0.0.0/8")};
    CHECK(l7::rate_limit_key(by_ip, forwarded, via_proxies, addr("10.0.0.1:1")) ==
          std::string("\xc6\x33\x64\x01", 4));  // 198.51.100.1: the first untrusted hop
    CHECK(l7::rate_limit_key(by_ip, forwarded, via_proxies, addr("192.0.2.7:1")) ==
          std::string("\xc0\x00\x02\x07", 4));  // an untrusted peer's header is ignored
    const l7::RequestInfo garbage = request_with({{"X-Forwarded-For", "evil, 10.0.0.3"}});
    CHECK(l7::rate_limit_key(by_ip, forwarded, garbage, addr("10.0.0.1:1")) == std::string("\x0a\x00\x00\x03", 4));

    HttpRateLimitZoneConfig by_header = zone_config(1, 1000, 0);
    by_header.key = HttpRateLimitKey::kHeader;
    by_header.header = "x-api-key";
    CHECK(l7::rate_limit_key(by_header, forwarded, request_with({{"X-API-Key", "k1"}}), addr("10.0.0.1:1")) == "k1");
    CHECK(l7::rate_limit_key(by_header, forwarded, plain, addr("10.0.0.1:1")).empty());
}

}  // namespace
}  // namespace lbd
