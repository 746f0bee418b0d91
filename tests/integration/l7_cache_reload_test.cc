// A reload (SIGHUP) and the response cache, on a real lbd in front of
// cache_origin.py: a zone whose settings are unchanged keeps its objects
// (the same config, or one changed elsewhere: a new route, a timeout), so the
// next request is a HIT with the same body and the origin sees nothing new;
// a zone whose settings changed (its size) starts empty.
#include <doctest/doctest.h>

#include <string>

#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// `zone` is the cache_zones block's body; `http_extra` goes into the listener's http block.
std::string reload_config(uint16_t origin, const std::string& zone, const std::string& http_extra = "") {
    return "global { workers: 2 drain_timeout_ms: 2000 cache_zones { " + zone + " } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http {\n    " + http_extra + "\n"
           "    routes { pool: \"web\" cache { zone: \"z\" } }\n  }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

const std::string kZone = "name: \"z\" max_bytes: 8388608";
const std::string kTarget = "/kept?h=Cache-Control:max-age%3D600";

struct Fixture {
    Fixture() : lbd(reload_config(origin.port(), kZone)) {}
    HttpReply get() {
        auto reply = http_request(lbd.port(), get_request(kTarget), kIoTimeoutMs);
        REQUIRE(reply);
        return *reply;
    }
    Origin origin;
    RunningLbd lbd;
};

TEST_CASE("a reload keeps a zone whose settings are unchanged, and empties one whose settings changed") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const HttpReply stored = f.get();
    CHECK(stored.header("X-Cache-Status") == "MISS");
    CHECK(f.get().header("X-Cache-Status") == "HIT");

    // The same config.
    REQUIRE(reload_lbd(f.lbd, reload_config(f.origin.port(), kZone), "reload applied", 1));
    HttpReply same = f.get();
    CHECK(same.header("X-Cache-Status") == "HIT");
    CHECK(same.body == stored.body);
    CHECK(f.origin.count("/kept") == 1);

    // Another part changed: a new route and the listener's timeouts.
    const std::string elsewhere = "timeouts { server_response_ms: 30000 }\n"
                                  "    routes { match { path_exact: \"/new\" } respond { status: 200 body: \"new\" } }";
    REQUIRE(reload_lbd(f.lbd, reload_config(f.origin.port(), kZone, elsewhere), "reload applied", 2));
    auto added = http_request(f.lbd.port(), get_request("/new"), kIoTimeoutMs);
    REQUIRE(added);
    CHECK(added->body == "new");  // the reload did apply
    HttpReply unrelated = f.get();
    CHECK(unrelated.header("X-Cache-Status") == "HIT");
    CHECK(unrelated.body == stored.body);
    CHECK(f.origin.count("/kept") == 1);

    // The zone's size changed: a new, empty zone under the same name (README: the cache section).
    REQUIRE(reload_lbd(f.lbd, reload_config(f.origin.port(), "name: \"z\" max_bytes: 16777216", elsewhere),
                       "reload applied", 3));
    HttpReply resized = f.get();
    CHECK(resized.header("X-Cache-Status") == "MISS");
    CHECK(has(resized.body, "n=2"));
    CHECK(f.origin.count("/kept") == 2);
    CHECK(f.get().header("X-Cache-Status") == "HIT");
}

}  // namespace
}  // namespace lbd::test
