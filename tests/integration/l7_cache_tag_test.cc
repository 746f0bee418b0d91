// Purge by tag (issue 13) on a real lbd in front of cache_origin.py: the
// origin tags its responses with a Cache-Tag header (the zone's
// tag_header), `lbctl cache purge ZONE --tag TAG` removes exactly the
// objects carrying TAG (the origin's request counts say which were
// fetched again), and clients see the tag header only when the zone keeps it.
// The admin HTTP endpoint purges the same way, with the admin token.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lbd/v1/admin.pb.h"
#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

// `zones` are the global.cache_zones entries; the route caches in zone "z".
std::string tag_config(const TempDir& dir, uint16_t origin, const std::string& zones, const std::string& admin) {
    return "global { workers: 2 drain_timeout_ms: 2000\n" + zones + "\n admin { socket_path: \"" + dir.path() +
           "/admin.sock\" " + admin + " } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http { routes { pool: \"web\" cache { zone: \"z\" } } }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

struct TagFixture {
    explicit TagFixture(const std::string& zones, const std::string& admin = "")
        : lbd(tag_config(dir, origin.port(), zones, admin)) {}
    HttpReply get(const std::string& target) {
        auto reply = http_request(lbd.port(), get_request(target, "example.com"), kIoTimeoutMs);
        REQUIRE(reply);
        return *reply;
    }
    Run ctl(std::vector<std::string> args) { return lbctl_at(dir.path() + "/admin.sock", std::move(args)); }
    TempDir dir;
    Origin origin;
    RunningLbd lbd;
};

// A fresh response tagged with `tags` (URL-encoded: %20 a space, %2C a comma).
std::string tagged(const std::string& path, const std::string& tags) {
    return path + "?h=Cache-Control:max-age%3D600&h=Cache-Tag:" + tags;
}

const std::string kP1 = tagged("/p1", "product-42%20all");
const std::string kP2 = tagged("/p2", "product-43%2Call");
const std::string kC7 = tagged("/c7", "category-7");

TEST_CASE("lbctl cache purge --tag removes every object carrying the tag, and only those; the header is stripped") {
    TagFixture f("cache_zones { name: \"z\" tag_header: \"Cache-Tag\" }");
    REQUIRE(f.origin.port() != 0);
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    for (const std::string& target : {kP1, kP2, kC7}) {
        HttpReply miss = f.get(target);
        CHECK(miss.header("X-Cache-Status") == "MISS");
        CHECK(miss.header("Cache-Tag") == "");  // stripped by default, on a miss
        HttpReply hit = f.get(target);
        CHECK(hit.header("X-Cache-Status") == "HIT");
        CHECK(hit.header("Cache-Tag") == "");  // and on a hit (the stored copy is without it)
    }

    Run one = f.ctl({"cache", "purge", "z", "--tag", "product-42"});
    CHECK(one.exit_code == 0);
    CHECK(has(one.output, "cache zone z: purged 1 object\n"));
    CHECK(f.get(kP1).header("X-Cache-Status") == "MISS");
    CHECK(f.get(kP2).header("X-Cache-Status") == "HIT");
    CHECK(f.get(kC7).header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/p1") == 2);
    CHECK(f.origin.count("/p2") == 1);

    // "all" tags /p1 (stored again) and /p2 (comma-separated): both go, /c7 stays.
    Run all = f.ctl({"--json", "cache", "purge", "z", "--tag", "all"});
    CHECK(all.exit_code == 0);
    auto reply = parse_json<v1::CachePurgeReply>(all.output);
    REQUIRE(reply.has_value());
    CHECK(reply->purged() == 2);
    CHECK(f.get(kP1).header("X-Cache-Status") == "MISS");
    CHECK(f.get(kP2).header("X-Cache-Status") == "MISS");
    CHECK(f.get(kC7).header("X-Cache-Status") == "HIT");
    CHECK(f.origin.count("/c7") == 1);
    CHECK(has(f.ctl({"cache", "purge", "z", "--tag", "nothing-has-it"}).output, "purged 0 objects"));

    // Exactly one of TARGET and --tag; --prefix only with TARGET: usage errors (2).
    CHECK(f.ctl({"cache", "purge", "z"}).exit_code == 2);
    CHECK(f.ctl({"cache", "purge", "z", "/p1", "--tag", "all"}).exit_code == 2);
    CHECK(f.ctl({"cache", "purge", "z", "--prefix", "--tag", "all"}).exit_code == 2);
    CHECK(f.ctl({"cache", "purge", "nope", "--tag", "all"}).exit_code == 1);
}

TEST_CASE("strip_tag_header: false shows the tags to clients; a zone without tag_header refuses --tag") {
    TagFixture f("cache_zones { name: \"z\" tag_header: \"Cache-Tag\" strip_tag_header: false }\n"
                 "cache_zones { name: \"plain\" }");
    REQUIRE(f.origin.port() != 0);
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    CHECK(f.get(kP1).header("Cache-Tag") == "product-42 all");
    HttpReply hit = f.get(kP1);
    CHECK(hit.header("X-Cache-Status") == "HIT");
    CHECK(hit.header("Cache-Tag") == "product-42 all");
    CHECK(has(f.ctl({"cache", "purge", "z", "--tag", "all"}).output, "purged 1 object\n"));
    CHECK(f.get(kP1).header("X-Cache-Status") == "MISS");

    Run refused = f.ctl({"cache", "purge", "plain", "--tag", "all"});
    CHECK(refused.exit_code == 1);
    CHECK(has(refused.output, "cache zone 'plain' has no tag_header"));
}

// A POST to the admin HTTP port; `auth` is a header line or "".
HttpReply post(uint16_t port, const std::string& path, const std::string& auth) {
    auto reply = http_request(port,
                              "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n" + auth + "\r\n",
                              kIoTimeoutMs);
    REQUIRE(reply);
    return *reply;
}

TEST_CASE("admin HTTP: POST /api/cache/ZONE/purge by tag, path or prefix, only with the admin token") {
    const std::string token = "cache-purge-token-0123456789abcdef";
    TagFixture f("cache_zones { name: \"z\" tag_header: \"Cache-Tag\" }",
                 "http_bind: \"127.0.0.1:0\" http_token: \"" + token + "\"");
    REQUIRE(f.origin.port() != 0);
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const uint16_t admin = admin_port(f.lbd);
    REQUIRE(admin != 0);
    const std::string auth = "Authorization: Bearer " + token + "\r\n";
    for (const std::string& target : {kP1, kP2, kC7}) f.get(target);

    CHECK(post(admin, "/api/cache/z/purge?tag=all", "").status == 401);
    CHECK(post(admin, "/api/cache/z/purge?tag=all", "Authorization: Bearer wrong\r\n").status == 401);
    CHECK(f.get(kP1).header("X-Cache-Status") == "HIT");  // nothing purged without the token

    HttpReply by_tag = post(admin, "/api/cache/z/purge?tag=all", auth);
    CHECK(by_tag.status == 200);
    CHECK(has(by_tag.body, "\"purged\":\"2\""));
    CHECK(f.get(kP1).header("X-Cache-Status") == "MISS");
    CHECK(f.get(kC7).header("X-Cache-Status") == "HIT");
    HttpReply by_prefix = post(admin, "/api/cache/z/purge?target=/c&prefix=1", auth);
    CHECK(by_prefix.status == 200);
    CHECK(has(by_prefix.body, "\"purged\":\"1\""));
    CHECK(f.get(kC7).header("X-Cache-Status") == "MISS");

    CHECK(post(admin, "/api/cache/nope/purge?tag=all", auth).status == 404);
    CHECK(post(admin, "/api/cache/z/purge", auth).status == 400);  // neither target nor tag
    CHECK(post(admin, "/api/cache/z/purge?tag=a&target=/x", auth).status == 400);
    CHECK(post(admin, "/api/cache/z/explode?tag=all", auth).status == 404);
    CHECK(f.lbd->await_line("admin http: cache purge zone z, tag all: 2 objects", kIoTimeoutMs));
}

}  // namespace
}  // namespace lbd::test
