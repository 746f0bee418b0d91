// The response cache's waits and revalidations on a real lbd (2 workers) in
// front of cache_origin.py: a collapse wait that ends sends the waiter to
// the server itself (never a 504), concurrent requests for one expired key
// make one revalidation, a 304 refreshes the stored entry in place (its
// variant, its compressed body, its weak ETag, the server connection kept),
// and one request view keys lookup and store.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// `http_extra` goes into the listener's http block, `route_extra` into the caching route.
std::string revalidate_config(uint16_t origin, const std::string& http_extra, const std::string& route_extra) {
    return "global { workers: 2 drain_timeout_ms: 2000 cache_zones { name: \"z\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http {\n    " + http_extra + "\n"
           "    routes { pool: \"web\" cache { zone: \"z\" } " + route_extra + " }\n  }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

struct Fixture {
    explicit Fixture(const std::string& http_extra = "", const std::string& route_extra = "")
        : lbd(revalidate_config(origin.port(), http_extra, route_extra)) {}
    HttpReply get(const std::string& target, const std::string& extra = "") {
        auto reply = http_request(lbd.port(), get_request(target, "example.com", extra), kIoTimeoutMs);
        REQUIRE(reply);
        return *reply;
    }
    Origin origin;
    RunningLbd lbd;
};

int origin_connections(const Origin& origin) {
    auto reply = http_request(origin.port(), get_request("/__conns"), kIoTimeoutMs);
    return reply ? std::stoi(reply->body) : -1;
}

TEST_CASE("collapsing: a waiter whose wait runs out goes to the server itself, not a 504") {
    // The fill's head comes at once, its body over 3 s; the waiters' bound
    // (half of server_response_ms) ends before it: each fetches for itself.
    Fixture f("timeouts { server_response_ms: 1000 }");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string slow = "/trickle?h=Cache-Control:max-age%3D60&size=10000&trickle_ms=3000";
    const std::vector<std::string> statuses = concurrent_gets(f.lbd.port(), slow, 5);
    INFO(statuses[0] << " " << statuses[1] << " " << statuses[2] << " " << statuses[3] << " " << statuses[4]);
    CHECK(std::count(statuses.begin(), statuses.end(), "MISS") == 5);
    CHECK(f.origin.count("/trickle") == 5);
}

TEST_CASE("collapsing: concurrent requests for one expired key make one revalidation") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    // Stored already stale (Age 100 on the first response only), then
    // revalidated by a slow 304 that makes it fresh for a minute.
    const std::string key = "/expired?h=Cache-Control:max-age%3D60&h=ETag:%22s1%22&h1=Age:100&delay_ms=500";
    CHECK(f.get(key).header("X-Cache-Status") == "MISS");
    const std::vector<std::string> statuses = concurrent_gets(f.lbd.port(), key, 10);
    CHECK(std::count(statuses.begin(), statuses.end(), "REVALIDATED") == 1);
    CHECK(std::count(statuses.begin(), statuses.end(), "HIT") == 9);
    CHECK(f.origin.count("/expired") == 2);
}

TEST_CASE("a 304 refreshes the stored entry in place: same variant, compressed body, weak ETag, connection kept") {
    Fixture f("compression { }");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    // no-cache: every use is revalidated. The origin's Vary (Origin) gains
    // Accept-Encoding from the compression filter; its 304 carries only its own.
    const std::string key =
        "/cmp?h=Content-Type:text/plain&h=Cache-Control:no-cache&h=ETag:%22c1%22&h=Vary:Origin&h=X-Rev:1"
        "&h=Link:%3C/a%3E&h=Link:%3C/b%3E&size=4000";
    const std::string gzip = "Accept-Encoding: gzip\r\n";
    HttpReply first = f.get(key, gzip);
    CHECK(first.header("X-Cache-Status") == "MISS");
    CHECK(first.header("Content-Encoding") == "gzip");
    CHECK(first.header("ETag") == "W/\"c1\"");
    CHECK(has(first.header("Vary"), "Accept-Encoding"));
    for (int i = 0; i < 5; ++i) {
        INFO("revalidation " << i);
        HttpReply again = f.get(key, gzip);
        CHECK(again.status == 200);
        CHECK(again.header("X-Cache-Status") == "REVALIDATED");
        CHECK(again.header("Content-Encoding") == "gzip");
        CHECK(again.header("ETag") == "W/\"c1\"");
        CHECK(has(again.header("Vary"), "Accept-Encoding"));
        CHECK(has(again.head, "X-Rev: 1"));
        // Two fields of one name in the 304 replace the stored pair as a group.
        CHECK(has(again.head, "Link: </a>"));
        CHECK(has(again.head, "Link: </b>"));
        CHECK(again.header("Content-Length") == std::to_string(first.body.size()));
        CHECK(again.body == first.body);
    }
    CHECK(f.origin.count("/cmp") == 6);
    // The identity variant is its own entry, untouched by the gzip one's refreshes.
    HttpReply identity = f.get(key);
    CHECK(identity.header("X-Cache-Status") == "MISS");
    CHECK(identity.body == std::string(4000, 'x'));
    // The 304s left their connections for the next request: at most one per worker.
    CHECK(origin_connections(f.origin) <= 2);
}

TEST_CASE("lookup and store key by one request view: a request header action does not split them") {
    // The route sets X-Variant for the server; the response varies by it.
    Fixture f("", "request_headers { set { name: \"X-Variant\" value: \"fixed\" } }");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string key = "/view?h=Cache-Control:max-age%3D60&h=Vary:X-Variant";
    CHECK(f.get(key, "X-Variant: a\r\n").header("X-Cache-Status") == "MISS");
    CHECK(f.get(key, "X-Variant: a\r\n").header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/view") == 1);
}

TEST_CASE("the access log names the cache status (cache=MISS, then cache=HIT)") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    CHECK(f.get("/logged?h=Cache-Control:max-age%3D60").header("X-Cache-Status") == "MISS");
    CHECK(f.get("/logged?h=Cache-Control:max-age%3D60").header("X-Cache-Status") == "HIT");
    auto miss = f.lbd->await_line(http_line_for("/logged"), kIoTimeoutMs);
    REQUIRE(miss);
    CHECK(field(*miss, "cache") == "MISS");
    auto hit = f.lbd->await_line(LinePattern(" cache=HIT"), kIoTimeoutMs);
    REQUIRE(hit);
    CHECK(has(*hit, " path=/logged "));
}

}  // namespace
}  // namespace lbd::test
