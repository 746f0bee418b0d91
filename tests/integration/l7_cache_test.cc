// The response cache on a real lbd (2 workers) in front of a scripted origin
// (cache_origin.py) that counts its requests per path: each rule asserts how
// many requests reached the origin and what X-Cache-Status said.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

std::string cache_config(const TempDir& dir, uint16_t origin, const std::string& route_cache,
                         const std::string& zone = "cache_zones { name: \"z\" }") {
    return "global { workers: 2 drain_timeout_ms: 2000 " + zone + "\n admin { socket_path: \"" + dir.path() +
           "/admin.sock\" http_bind: \"127.0.0.1:0\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http {\n    routes { match { path_prefix: \"/nocache/\" } pool: \"web\" }\n"
           "    routes { pool: \"web\" cache { zone: \"z\" " + route_cache + " } }\n  }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

struct Fixture {
    explicit Fixture(const std::string& route_cache = "", const std::string& zone = "cache_zones { name: \"z\" }")
        : lbd(cache_config(dir, origin.port(), route_cache, zone)) {}
    HttpReply get(const std::string& target, const std::string& extra = "", const std::string& method = "GET") {
        std::string request = get_request(target, "example.com", extra);
        request.replace(0, 3, method);
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        REQUIRE(send_all(fd.get(), request, kIoTimeoutMs));
        auto reply = read_http_reply(fd.get(), kIoTimeoutMs, method == "HEAD");
        REQUIRE(reply);
        return *reply;
    }
    Run ctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"--socket", dir.path() + "/admin.sock"});
        return lbctl(args);
    }
    TempDir dir;
    Origin origin;
    RunningLbd lbd;
};

const std::string kMaxAge60 = "?h=Cache-Control:max-age%3D60";

TEST_CASE("a fresh response is stored once and answered from the zone with Age, then purged by lbctl") {
    Fixture f;
    REQUIRE(f.origin.port() != 0);
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    HttpReply first = f.get("/a" + kMaxAge60);
    CHECK(first.status == 200);
    CHECK(first.header("X-Cache-Status") == "MISS");
    CHECK(first.header("X-Cache") == "MISS");
    CHECK(has(first.body, "n=1"));
    HttpReply second = f.get("/a" + kMaxAge60);
    CHECK(second.status == 200);
    CHECK(second.header("X-Cache-Status") == "HIT");
    CHECK(second.header("X-Cache") == "HIT");
    CHECK(second.header("Age") != "");
    CHECK(second.header("Content-Type") == "");  // the origin sent none; lbd adds none
    CHECK(second.body == first.body);
    CHECK(f.origin.count("/a") == 1);
    // HEAD from the stored GET, with the stored length.
    HttpReply head = f.get("/a" + kMaxAge60, "", "HEAD");
    CHECK(head.header("X-Cache-Status") == "HIT");
    CHECK(head.header("Content-Length") == std::to_string(first.body.size()));
    // The client's conditionals answered 304 from the zone.
    HttpReply etagged = f.get("/e?h=Cache-Control:max-age%3D60&h=ETag:%22v1%22");
    CHECK(etagged.status == 200);
    HttpReply not_modified = f.get("/e?h=Cache-Control:max-age%3D60&h=ETag:%22v1%22", "If-None-Match: \"v1\"\r\n");
    CHECK(not_modified.status == 304);
    CHECK(not_modified.header("ETag") == "\"v1\"");
    CHECK(not_modified.header("X-Cache-Status") == "HIT");
    CHECK(not_modified.body.empty());
    CHECK(f.origin.count("/e") == 1);
    // Another path on the route goes to the origin; a route without cache is untouched.
    CHECK(f.get("/nocache/x" + kMaxAge60).header("X-Cache-Status") == "");
    CHECK(f.get("/nocache/x" + kMaxAge60).header("X-Cache-Status") == "");
    CHECK(f.origin.count("/nocache/x") == 2);

    // lbctl: purge by path, then the next request is a miss again.
    Run purge = f.ctl({"cache", "purge", "z", "/a" + kMaxAge60});
    CHECK(purge.exit_code == 0);
    CHECK(has(purge.output, "purged 1 object"));
    CHECK(f.get("/a" + kMaxAge60).header("X-Cache-Status") == "MISS");
    CHECK(f.origin.count("/a") == 2);
    Run prefix = f.ctl({"cache", "purge", "z", "--prefix", "/"});
    CHECK(prefix.exit_code == 0);
    CHECK(f.get("/e?h=Cache-Control:max-age%3D60&h=ETag:%22v1%22").header("X-Cache-Status") == "MISS");
    CHECK(f.ctl({"cache", "purge", "nope", "/a"}).exit_code == 1);
    Run stats = f.ctl({"--json", "cache", "stats"});
    CHECK(stats.exit_code == 0);
    CHECK(has(stats.output, "\"name\": \"z\""));
    CHECK(has(stats.output, "\"hits\": \"3\""));
    const uint16_t admin = admin_port(f.lbd);
    CHECK(metric(admin, "lbd_http_cache_hits_total{zone=\"z\"}") == 3);
    CHECK(metric(admin, "lbd_http_cache_stores_total{zone=\"z\"}") >= 4);
}

TEST_CASE("RFC 9111: what is not stored goes to the origin every time") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    struct Case {
        std::string path;
        std::string query;
        std::string extra;
    };
    const std::vector<Case> cases = {
        {"/no-store", "?h=Cache-Control:no-store,max-age%3D60", ""},
        {"/private", "?h=Cache-Control:private,max-age%3D60", ""},
        {"/no-lifetime", "", ""},
        {"/status-500", "?status=500&h=Cache-Control:max-age%3D60", ""},
        {"/status-302", "?status=302&h=Cache-Control:max-age%3D60&h=Location:/x", ""},
        {"/set-cookie", "?h=Cache-Control:max-age%3D60&h=Set-Cookie:a%3Db", ""},
        {"/vary-star", "?h=Cache-Control:max-age%3D60&h=Vary:*", ""},
        {"/authorization", "?h=Cache-Control:max-age%3D60", "Authorization: Basic eDp5\r\n"},
        {"/stale-no-validator", "?h=Cache-Control:max-age%3D0", ""},
    };
    for (const Case& c : cases) {
        INFO(c.path);
        CHECK(f.get(c.path + c.query, c.extra).header("X-Cache-Status") == "MISS");
        CHECK(f.get(c.path + c.query, c.extra).header("X-Cache-Status") == "MISS");
        CHECK(f.origin.count(c.path) == 2);
    }
    // Authorization with public: stored, and served to others.
    CHECK(f.get("/auth-public?h=Cache-Control:public,max-age%3D60", "Authorization: Basic eDp5\r\n")
              .header("X-Cache-Status") == "MISS");
    CHECK(f.get("/auth-public?h=Cache-Control:public,max-age%3D60").header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/auth-public") == 1);
    // Expires - Date gives the lifetime when there is no max-age.
    const std::string expires = "?h=Date:now&h=Expires:Thu,%2001%20Jan%202099%2000:00:00%20GMT";
    f.get("/expires" + expires);
    CHECK(f.get("/expires" + expires).header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/expires") == 1);
    // s-maxage beats max-age=0.
    f.get("/s-maxage?h=Cache-Control:max-age%3D0,s-maxage%3D60");
    CHECK(f.get("/s-maxage?h=Cache-Control:max-age%3D0,s-maxage%3D60").header("X-Cache-Status") == "HIT");
    // A stored status keeps its reason phrase on a hit (the zone keeps the status only).
    for (const auto& [status, line] : std::vector<std::pair<std::string, std::string>>{
             {"410", "HTTP/1.1 410 Gone\r\n"}, {"203", "HTTP/1.1 203 Non-Authoritative Information\r\n"},
             {"300", "HTTP/1.1 300 Multiple Choices\r\n"}, {"501", "HTTP/1.1 501 Not Implemented\r\n"}}) {
        INFO(status);
        const std::string target = "/status-" + status + "?status=" + status + "&h=Cache-Control:max-age%3D60";
        CHECK(f.get(target).header("X-Cache-Status") == "MISS");
        HttpReply hit = f.get(target);
        CHECK(hit.header("X-Cache-Status") == "HIT");
        CHECK(hit.head.rfind(line, 0) == 0);
    }
    // Methods and bodies bypass.
    CHECK(f.get("/post" + kMaxAge60, "Content-Length: 0\r\n", "POST").header("X-Cache-Status") == "BYPASS");
    CHECK(f.get("/post" + kMaxAge60).header("X-Cache-Status") == "MISS");
    CHECK(f.origin.count("/post") == 2);
}

TEST_CASE("lifetimes: expiry, no-cache revalidated by a 304, Age from the origin, valid and bypass rules") {
    Fixture f("valid { statuses: [200, 302] ttl_ms: 60000 } bypass_headers: \"X-Nocache\" bypass_cookies: \"session\"");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    // max-age=1: fresh, then EXPIRED once a second has passed (polled, no sleep).
    f.get("/short?h=Cache-Control:max-age%3D1");
    CHECK(poll_until([&] { return f.get("/short?h=Cache-Control:max-age%3D1").header("X-Cache-Status") == "EXPIRED"; },
                     4000));
    // An Age of 59 from upstream leaves one second of max-age=60.
    f.get("/aged?h=Cache-Control:max-age%3D60&h=Age:59");
    CHECK(poll_until([&] { return f.get("/aged?h=Cache-Control:max-age%3D60&h=Age:59").header("X-Cache-Status") == "EXPIRED"; },
                     4000));
    // no-cache with an ETag: stored, revalidated each time; the origin's 304 serves the stored body.
    const std::string revalidate = "/reval?h=Cache-Control:no-cache&h=ETag:%22r1%22";
    HttpReply first = f.get(revalidate);
    CHECK(first.header("X-Cache-Status") == "MISS");
    HttpReply second = f.get(revalidate);
    CHECK(second.status == 200);
    CHECK(second.header("X-Cache-Status") == "REVALIDATED");
    CHECK(second.body == first.body);  // n=1: the stored body, not a new one
    CHECK(f.origin.count("/reval") == 2);
    // valid: a 302 without lifetime is stored for 60 s; a 200 without one too.
    f.get("/moved?status=302&h=Location:/x");
    CHECK(f.get("/moved?status=302&h=Location:/x").header("X-Cache-Status") == "HIT");
    f.get("/plain");
    CHECK(f.get("/plain").header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/plain") == 1);
    // bypass: header and cookie.
    CHECK(f.get("/plain", "X-Nocache: 1\r\n").header("X-Cache-Status") == "BYPASS");
    CHECK(f.get("/plain", "Cookie: session=abc\r\n").header("X-Cache-Status") == "BYPASS");
    CHECK(f.get("/plain", "X-Nocache: 0\r\n").header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/plain") == 3);
}

TEST_CASE("Vary: one variant per normalised Accept-Encoding") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string path = "/vary?h=Cache-Control:max-age%3D60&h=Vary:Accept-Encoding";
    HttpReply gzip = f.get(path, "Accept-Encoding: gzip, br\r\n");
    CHECK(gzip.header("X-Cache-Status") == "MISS");
    HttpReply same = f.get(path, "Accept-Encoding: br;q=1.0,gzip\r\n");
    CHECK(same.header("X-Cache-Status") == "HIT");
    CHECK(same.body == gzip.body);
    HttpReply identity = f.get(path);
    CHECK(identity.header("X-Cache-Status") == "MISS");
    CHECK(has(identity.body, "ae=-"));
    CHECK(f.get(path).body == identity.body);
    CHECK(f.get(path, "Accept-Encoding: br\r\n").header("X-Cache-Status") == "MISS");
    CHECK(f.origin.count("/vary") == 3);
}

TEST_CASE("the zone stays under max_bytes (LRU eviction); an object over max_object_bytes streams unstored") {
    Fixture f("", "cache_zones { name: \"z\" max_bytes: 262144 max_object_bytes: 65536 }");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    for (int i = 0; i < 20; ++i) f.get("/obj" + std::to_string(i) + kMaxAge60 + "&size=30000");
    const uint16_t admin = admin_port(f.lbd);
    CHECK(metric(admin, "lbd_http_cache_bytes{zone=\"z\"}") <= 262144);
    CHECK(metric(admin, "lbd_http_cache_evictions_total{zone=\"z\"}") > 0);
    // The last one is there, the first was evicted.
    CHECK(f.get("/obj19" + kMaxAge60 + "&size=30000").header("X-Cache-Status") == "HIT");
    CHECK(f.get("/obj0" + kMaxAge60 + "&size=30000").header("X-Cache-Status") == "MISS");
    // Too large: the whole body arrives, both times from the origin (chunked: no length known up front).
    for (int i = 0; i < 2; ++i) {
        HttpReply big = f.get("/big" + kMaxAge60 + "&size=100000&chunked=1");
        CHECK(big.status == 200);
        CHECK(big.body.size() == 100000);
        CHECK(big.header("X-Cache-Status") == "MISS");
    }
    CHECK(f.origin.count("/big") == 2);
    CHECK(metric(admin, "lbd_http_cache_too_large_total{zone=\"z\"}") == 2);
    // A chunked body under the limit is stored and served with its length.
    f.get("/chunked" + kMaxAge60 + "&size=20000&chunked=1");
    HttpReply hit = f.get("/chunked" + kMaxAge60 + "&size=20000&chunked=1");
    CHECK(hit.header("X-Cache-Status") == "HIT");
    CHECK(hit.header("Content-Length") == "20000");
    CHECK(hit.body == std::string(20000, 'x'));
}

TEST_CASE("workers share the zone: many connections, one origin request") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    CHECK(f.get("/shared" + kMaxAge60).header("X-Cache-Status") == "MISS");
    std::atomic<int> hits{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 8; ++t)
        clients.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto reply = http_request(f.lbd.port(), get_request("/shared" + kMaxAge60), kIoTimeoutMs);
                if (reply && reply->header("X-Cache-Status") == "HIT") ++hits;
            }
        });
    for (auto& c : clients) c.join();
    CHECK(hits == 80);
    CHECK(f.origin.count("/shared") == 1);
}

TEST_CASE("collapsing: 50 concurrent misses on a cold key make one origin request") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::vector<std::string> statuses = concurrent_gets(f.lbd.port(), "/slow" + kMaxAge60 + "&delay_ms=700", 50);
    CHECK(std::count(statuses.begin(), statuses.end(), "MISS") == 1);
    CHECK(std::count(statuses.begin(), statuses.end(), "HIT") == 49);
    CHECK(f.origin.count("/slow") == 1);
    const uint16_t admin = admin_port(f.lbd);
    CHECK(metric(admin, "lbd_http_cache_collapsed_total{zone=\"z\"}") >= 1);

    // Uncacheable: the waiters are released to the server at once (each gets its own answer),
    // and for a while misses on the key no longer wait (hit-for-miss).
    const std::string uncacheable = "/nostore?h=Cache-Control:no-store&delay_ms=300";
    std::vector<std::string> first = concurrent_gets(f.lbd.port(), uncacheable, 10);
    CHECK(std::count(first.begin(), first.end(), "MISS") == 10);
    CHECK(f.origin.count("/nostore") == 10);
    const double collapsed = metric(admin, "lbd_http_cache_collapsed_total{zone=\"z\"}");
    std::vector<std::string> second = concurrent_gets(f.lbd.port(), uncacheable, 10);
    CHECK(std::count(second.begin(), second.end(), "MISS") == 10);
    CHECK(metric(admin, "lbd_http_cache_collapsed_total{zone=\"z\"}") == collapsed);
    CHECK(f.origin.count("/nostore") == 20);
}

}  // namespace
}  // namespace lbd::test
