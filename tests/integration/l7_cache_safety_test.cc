// The response cache is safe by default against poisoning and deception, on a
// real lbd (2 workers) in front of cache_origin.py, which reflects request
// headers into its body (echo=) and counts its requests per path:
//   - an attacker's unkeyed headers (X-Forwarded-Host, X-Forwarded-Proto,
//     X-Original-URL, ...) never shape the object a clean client gets next;
//   - error responses are not stored unless configured;
//   - a request with a body is never a hit and stores nothing;
//   - cache deception (/profile.php/x.css answered with the private HTML
//     page) is passed through unstored, while a real .css is stored.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// `http_extra` goes into the listener's http block, `route_cache` into the route's cache block.
std::string safety_config(const TempDir& dir, uint16_t origin, const std::string& http_extra,
                          const std::string& route_cache) {
    return "global { workers: 2 drain_timeout_ms: 2000 cache_zones { name: \"z\" }\n admin { socket_path: \"" +
           dir.path() + "/admin.sock\" http_bind: \"127.0.0.1:0\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http {\n    " + http_extra + "\n"
           "    routes { pool: \"web\" cache { zone: \"z\" " + route_cache + " } }\n  }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

struct Fixture {
    explicit Fixture(const std::string& http_extra = "", const std::string& route_cache = "")
        : lbd(safety_config(dir, origin.port(), http_extra, route_cache)) {}
    // `target` with `extra` header lines and `body` (its framing is the caller's, in `extra`).
    HttpReply send(const std::string& method, const std::string& target, const std::string& extra = "",
                   const std::string& body = "") {
        std::string request = get_request(target, "example.com", extra) + body;
        request.replace(0, 3, method);
        auto reply = http_request(lbd.port(), request, kIoTimeoutMs);
        REQUIRE(reply);
        return *reply;
    }
    HttpReply get(const std::string& target, const std::string& extra = "") { return send("GET", target, extra); }
    double metric_of(const std::string& name) { return metric(admin_port(lbd), name + "{zone=\"z\"}"); }
    TempDir dir;
    Origin origin;
    RunningLbd lbd;
};

const std::string kMaxAge60 = "h=Cache-Control:max-age%3D60";

// The attacker's request, then a clean client's: the clean one is a HIT with
// the very body the origin gave for a clean request, no trace of `evil`.
void check_not_poisoned(Fixture& f, const std::string& path, const std::string& attack, const std::string& clean) {
    const std::string target = path + "?" + kMaxAge60 + "&echo=X-Forwarded-Host&echo=X-Forwarded-Proto";
    HttpReply attacked = f.get(target, "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n");
    CHECK(attacked.status == 200);
    CHECK(attacked.header("X-Cache-Status") == "MISS");
    CHECK(has(attacked.body, attack));
    CHECK(!has(attacked.body, "evil"));
    HttpReply next = f.get(target);
    CHECK(next.header("X-Cache-Status") == "HIT");
    CHECK(next.body == attacked.body);
    CHECK(has(next.body, clean));
    CHECK(f.origin.count(path) == 1);
}

TEST_CASE("poisoning: a client's X-Forwarded-Host and -Proto never reach the stored object") {
    SUBCASE("replaced by lbd's own (the default)") {
        Fixture f;
        INFO(f.lbd->log());
        REQUIRE(f.lbd.ok());
        check_not_poisoned(f, "/fwd", "x-forwarded-host=example.com x-forwarded-proto=http",
                           "x-forwarded-host=example.com");
    }
    SUBCASE("removed when turned off: the server never sees the client's") {
        Fixture f("forwarded { x_forwarded_host: false x_forwarded_proto: false }");
        INFO(f.lbd->log());
        REQUIRE(f.lbd.ok());
        check_not_poisoned(f, "/fwd-off", "x-forwarded-host=- x-forwarded-proto=-", "x-forwarded-host=-");
    }
}

TEST_CASE("poisoning: a request with an URL or method override header bypasses the cache") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::vector<std::string> overrides = {"X-Original-URL: /admin", "X-Rewrite-URL: /admin",
                                                "X-HTTP-Method-Override: DELETE"};
    int requests = 0;
    for (const std::string& header : overrides) {
        INFO(header);
        const std::string target = "/page?" + kMaxAge60 + "&echo=X-Original-URL&echo=X-Rewrite-URL";
        HttpReply attacked = f.get(target, header + "\r\n");
        CHECK(attacked.header("X-Cache-Status") == "BYPASS");
        ++requests;
        // Nothing stored from it: the clean client's request is the origin's first clean one.
        HttpReply clean = f.get(target);
        CHECK(has(clean.body, "x-original-url=- x-rewrite-url=-"));
        if (clean.header("X-Cache-Status") == "MISS") ++requests;
        CHECK(f.origin.count("/page") == requests);
    }
    CHECK(f.get("/page?" + kMaxAge60 + "&echo=X-Original-URL&echo=X-Rewrite-URL").header("X-Cache-Status") == "HIT");
}

TEST_CASE("errors are not stored by default; a configured status is") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    // 5xx even with a lifetime; 403 and 404 without one.
    const std::vector<std::string> errors = {"/e500?status=500&" + kMaxAge60, "/e502?status=502&" + kMaxAge60,
                                             "/e503?status=503&" + kMaxAge60, "/e504?status=504&" + kMaxAge60,
                                             "/e403?status=403", "/e404?status=404"};
    for (const std::string& target : errors) {
        INFO(target);
        for (int i = 0; i < 2; ++i) CHECK(f.get(target).header("X-Cache-Status") == "MISS");
        CHECK(f.origin.count(target.substr(0, target.find('?'))) == 2);
    }
    CHECK(f.metric_of("lbd_http_cache_stores_total") == 0);

    Fixture configured("", "valid { statuses: 404 ttl_ms: 60000 }");
    REQUIRE(configured.lbd.ok());
    configured.get("/gone?status=404");
    CHECK(configured.get("/gone?status=404").header("X-Cache-Status") == "HIT");
    CHECK(configured.origin.count("/gone") == 1);
}

TEST_CASE("a request with a body is never a hit and stores nothing") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::string target = "/b?" + kMaxAge60;
    // POST with a body, and GETs with a body (Content-Length, chunked): to the origin, nothing stored.
    CHECK(f.send("POST", target, "Content-Length: 5\r\n", "hello").header("X-Cache-Status") == "BYPASS");
    CHECK(f.send("GET", target, "Content-Length: 5\r\n", "hello").header("X-Cache-Status") == "BYPASS");
    CHECK(f.send("GET", target, "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n").header("X-Cache-Status") ==
          "BYPASS");
    CHECK(f.origin.count("/b") == 3);
    CHECK(f.metric_of("lbd_http_cache_stores_total") == 0);
    // Stored by a bodiless GET; a GET with a body still goes to the origin.
    CHECK(f.get(target).header("X-Cache-Status") == "MISS");
    CHECK(f.get(target).header("X-Cache-Status") == "HIT");
    HttpReply with_body = f.send("GET", target, "Content-Length: 5\r\n", "hello");
    CHECK(with_body.header("X-Cache-Status") == "BYPASS");
    CHECK(has(with_body.body, "n=5"));  // the origin's own answer, not the stored n=4
    CHECK(f.origin.count("/b") == 5);
}

// Each path is asked twice; `stored`: the second is a HIT.
struct DeceptionCase {
    std::string path;
    std::string content_type;  // "" = none
    bool stored;
};

void check_deception(Fixture& f, const std::vector<DeceptionCase>& cases) {
    for (const DeceptionCase& c : cases) {
        INFO(c.path << " " << c.content_type);
        std::string target = c.path + "?" + kMaxAge60;
        if (!c.content_type.empty()) target += "&h=Content-Type:" + c.content_type;
        HttpReply first = f.get(target);
        CHECK(first.status == 200);
        CHECK(first.header("X-Cache-Status") == "MISS");
        CHECK(f.get(target).header("X-Cache-Status") == (c.stored ? "HIT" : "MISS"));
        CHECK(f.origin.count(c.path) == (c.stored ? 1 : 2));
    }
}

TEST_CASE("cache deception: a response whose Content-Type does not fit the path's extension is not stored") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    check_deception(f, {
                           {"/account/profile.php/x.css", "text/html;%20charset=utf-8", false},
                           {"/account/profile.php;x.css", "text/html", false},
                           {"/account/settings/x.js", "text/html", false},
                           {"/api/me/avatar.png", "application/json", false},
                           {"/nocontenttype/x.css", "", false},
                           {"/static/app.css", "text/css;%20charset=utf-8", true},
                           {"/static/app.js", "application/javascript", true},
                           {"/static/logo.PNG", "image/webp", true},
                           {"/api/data.json", "application/problem%2Bjson", true},
                           {"/account/profile", "text/html", true},  // no extension: not judged
                           {"/archive/v1.2", "text/html", true},     // not an extension lbd knows
                       });
    CHECK(f.metric_of("lbd_http_cache_extension_mismatch_total") == 10);
}

TEST_CASE("cache deception: check_extension_type false stores by the response alone") {
    Fixture f("", "check_extension_type: false");
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    check_deception(f, {{"/data/export.json", "text/plain", true}});
    CHECK(f.metric_of("lbd_http_cache_extension_mismatch_total") == 0);
}

}  // namespace
}  // namespace lbd::test
