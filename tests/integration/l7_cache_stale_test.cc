// Serving stale (RFC 5861) on a real lbd (2 workers) in front of
// cache_origin.py. stale-if-error: the origin made to fail after the first
// answer (/__mode: a 5xx, a delay past server_response_ms) or stopped
// (connection refused). stale-while-revalidate: the origin made slow, the
// stale copy must come at once and one background request refresh it.
// Each entry is stored already stale (Age: 100 on the first answer,
// max-age 60), so it has been stale 40 s: within a window of 600 s, past
// one of 30 s.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

std::string stale_config(const TempDir& dir, uint16_t origin, const std::string& route_cache, int response_ms) {
    return "global { workers: 2 drain_timeout_ms: 2000 cache_zones { name: \"z\" }\n"
           " admin { socket_path: \"" + dir.path() + "/admin.sock\" http_bind: \"127.0.0.1:0\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http {\n    timeouts { server_response_ms: " + std::to_string(response_ms) + " }\n"
           "    routes { pool: \"web\" cache { zone: \"z\" " + route_cache + " } }\n  }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

// The origin's first answer for a path says Age: 100 (in the key, so every request has it).
const std::string kAged = "&h1=Age:100";

struct Fixture {
    // `response_ms`: server_response_ms (the timeout case waits past it).
    explicit Fixture(const std::string& route_cache = "", int response_ms = 1000)
        : lbd(stale_config(dir, origin.port(), route_cache, response_ms)) {}
    HttpReply get(const std::string& target) {
        auto reply = http_request(lbd.port(), get_request(target), kIoTimeoutMs);
        REQUIRE(reply);
        return *reply;
    }
    // Stores `path` + `query` (stale already: its query has kAged), then makes the origin answer `status`
    // after `delay_ms`.
    HttpReply store_then_fail(const std::string& path, const std::string& query, int status, int delay_ms = 0) {
        HttpReply first = get(path + query);
        CHECK(first.status == 200);
        CHECK(first.header("X-Cache-Status") == "MISS");
        REQUIRE(origin.set_mode(path, status, delay_ms));
        return first;
    }
    double stale(const char* cause) {
        return metric(admin_port(lbd), std::string("lbd_http_cache_stale_total{zone=\"z\",cause=\"") + cause + "\"}");
    }
    TempDir dir;
    Origin origin;
    RunningLbd lbd;
};

const std::string kWithin = "?h=Cache-Control:max-age%3D60,stale-if-error%3D600" + kAged;

void check_stale(const HttpReply& reply, const HttpReply& stored) {
    CHECK(reply.status == 200);
    CHECK(reply.header("X-Cache-Status") == "STALE");
    CHECK(reply.header("X-Cache") == "HIT");
    CHECK(reply.body == stored.body);
    // Its true age: 100 when stored, and no Warning (RFC 9111 obsoletes it).
    CHECK(std::stoi(reply.header("Age")) >= 100);
    CHECK(reply.header("Warning") == "");
}

TEST_CASE("stale-if-error: a 503, a timeout and a refused connection get the stale entry") {
    Fixture f;
    REQUIRE(f.origin.port() != 0);
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    // The server's 503.
    HttpReply stored = f.store_then_fail("/s503", kWithin, 503);
    check_stale(f.get("/s503" + kWithin), stored);
    CHECK(f.origin.count("/s503") == 2);
    // No response head within server_response_ms (1 s): not the 504.
    HttpReply slow = f.store_then_fail("/slow", kWithin, 0, 3000);
    check_stale(f.get("/slow" + kWithin), slow);
    // The origin gone: connection refused, not the 503.
    HttpReply down = f.store_then_fail("/down", kWithin, 0);
    f.origin.stop();
    check_stale(f.get("/down" + kWithin), down);
    // A key never stored has nothing to stand in: the error stands.
    CHECK(f.get("/never" + kWithin).status == 503);
    CHECK(f.stale("status") == 1);
    CHECK(f.stale("timeout") == 1);
    CHECK(f.stale("error") == 1);
}

TEST_CASE("stale-if-error: not with must-revalidate, proxy-revalidate, s-maxage, no-cache, nor past the window") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    struct Case {
        std::string path;
        std::string query;
    };
    const Case refused[] = {
        {"/must", "?h=Cache-Control:max-age%3D60,must-revalidate,stale-if-error%3D600" + kAged},
        {"/proxy", "?h=Cache-Control:max-age%3D60,proxy-revalidate,stale-if-error%3D600" + kAged},
        {"/smax", "?h=Cache-Control:s-maxage%3D60,stale-if-error%3D600" + kAged},
        {"/nocache", "?h=Cache-Control:no-cache,stale-if-error%3D600&h=ETag:%22n1%22" + kAged},
        {"/past", "?h=Cache-Control:max-age%3D60,stale-if-error%3D30" + kAged},
        {"/none", "?h=Cache-Control:max-age%3D60" + kAged},
    };
    for (const Case& c : refused) {
        INFO(c.path);
        f.store_then_fail(c.path, c.query, 503);
        HttpReply reply = f.get(c.path + c.query);
        CHECK(reply.status == 503);
        CHECK(reply.header("X-Cache-Status") != "STALE");
    }
    // The same failure within the window is served stale (the cases above fail for their directive).
    HttpReply stored = f.store_then_fail("/within", kWithin, 503);
    check_stale(f.get("/within" + kWithin), stored);
    CHECK(f.stale("status") == 1);
}

TEST_CASE("use_stale: if_error_ms gives responses without stale-if-error a window; `on` limits the failures") {
    Fixture f("use_stale { on: [\"http_503\", \"timeout\"] if_error_ms: 600000 }");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string plain = "?h=Cache-Control:max-age%3D60" + kAged;
    HttpReply stored = f.store_then_fail("/cfg", plain, 503);
    check_stale(f.get("/cfg" + plain), stored);
    // A 500 is not in `on`: it stands.
    REQUIRE(f.origin.set_mode("/cfg", 500));
    CHECK(f.get("/cfg" + plain).status == 500);
    // Nor is "error": a refused connection gets the 503.
    f.origin.stop();
    CHECK(f.get("/cfg" + plain).status == 503);
}

TEST_CASE("use_stale: if_error_ms replaces a shorter stale-if-error of the response") {
    Fixture f("use_stale { if_error_ms: 600000 }");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string shorter = "?h=Cache-Control:max-age%3D60,stale-if-error%3D30" + kAged;
    HttpReply stored = f.store_then_fail("/longer", shorter, 502);
    check_stale(f.get("/longer" + shorter), stored);
}

TEST_CASE("stale-while-revalidate: the stale copy at once, one conditional refresh for concurrent requests") {
    Fixture f("", 10000);  // the refresh may take the origin's 2 s
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string key = "/swr?h=Cache-Control:max-age%3D60,stale-while-revalidate%3D600&h=ETag:%22v1%22" + kAged;
    HttpReply stored = f.store_then_fail("/swr", key.substr(4), 0, 2000);  // the origin now answers after 2 s
    const auto start = std::chrono::steady_clock::now();
    const std::vector<std::string> statuses = concurrent_gets(f.lbd.port(), key, 10);
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(statuses[0] << " " << statuses[1] << " " << statuses[9]);
    CHECK(std::count(statuses.begin(), statuses.end(), "UPDATING") == 10);
    // None waited for the 2 s origin.
    CHECK(took < std::chrono::milliseconds(1500));
    // One background request, conditional: the origin's 304 makes the entry fresh again.
    CHECK(poll_until([&] { return f.get(key).header("X-Cache-Status") == "HIT"; }, 10000));
    HttpReply hit = f.get(key);
    CHECK(hit.body == stored.body);
    CHECK(std::stoi(hit.header("Age")) < 100);
    CHECK(f.origin.count("/swr") == 2);
    const uint16_t admin = admin_port(f.lbd);
    CHECK(metric(admin, "lbd_http_cache_refreshes_total{zone=\"z\"}") == 1);
    CHECK(f.stale("updating") >= 10);
}

TEST_CASE("stale-while-revalidate: a refresh without validators stores the origin's new response; window and must-revalidate hold") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string key = "/swr200?h=Cache-Control:max-age%3D60,stale-while-revalidate%3D600" + kAged;
    HttpReply stored = f.get(key);
    CHECK(has(stored.body, "n=1"));
    HttpReply updating = f.get(key);
    CHECK(updating.header("X-Cache-Status") == "UPDATING");
    CHECK(updating.body == stored.body);
    CHECK(poll_until([&] { return f.get(key).header("X-Cache-Status") == "HIT"; }, 10000));
    CHECK(has(f.get(key).body, "n=2"));
    CHECK(f.origin.count("/swr200") == 2);
    // Past its window, or with must-revalidate: fetched (EXPIRED), not served stale.
    for (const std::string& other : {"/swrpast?h=Cache-Control:max-age%3D60,stale-while-revalidate%3D30" + kAged,
                                    "/swrmust?h=Cache-Control:max-age%3D60,must-revalidate,stale-while-revalidate%3D600" +
                                        kAged}) {
        INFO(other);
        CHECK(f.get(other).header("X-Cache-Status") == "MISS");
        CHECK(f.get(other).header("X-Cache-Status") == "EXPIRED");
    }
}

}  // namespace
}  // namespace lbd::test
