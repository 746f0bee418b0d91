// Request collapsing across Vary variants on a real lbd (2 workers) in front
// of cache_origin.py: concurrent misses whose response varies are fetched
// once per variant, each client gets the variant its request selects, and
// a Vary: * response never answers another request.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

std::string vary_config(uint16_t origin) {
    return "global { workers: 2 drain_timeout_ms: 2000 cache_zones { name: \"z\" }\n"
           " admin { http_bind: \"127.0.0.1:0\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http {\n    routes { pool: \"web\" cache { zone: \"z\" status_headers: true } }\n  }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

struct Fixture {
    Fixture() : lbd(vary_config(origin.port())) {}
    Origin origin;
    RunningLbd lbd;
};

// One GET of `target` per entry of `languages`, all at once, each with that
// Accept-Language; the replies in the same order.
std::vector<HttpReply> concurrent_languages(uint16_t port, const std::string& target,
                                            const std::vector<std::string>& languages) {
    std::vector<HttpReply> replies(languages.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < languages.size(); ++i)
        clients.emplace_back([&, i] {
            auto reply =
                http_request(port, get_request(target, "example.com", "Accept-Language: " + languages[i] + "\r\n"), 15000);
            if (reply) replies[i] = *reply;
        });
    for (auto& c : clients) c.join();
    return replies;
}

// Every reply for `language` is a 200 naming it, and they are all the same bytes.
void check_variant(const std::vector<std::string>& languages, const std::vector<HttpReply>& replies,
                   const std::string& language) {
    std::set<std::string> bodies;
    for (size_t i = 0; i < languages.size(); ++i) {
        if (languages[i] != language) continue;
        CHECK(replies[i].status == 200);
        CHECK(has(replies[i].body, "accept-language=" + language + "\n"));
        bodies.insert(replies[i].body);
    }
    INFO(language);
    CHECK(bodies.size() == 1);
}

std::vector<std::string> alternate(const std::string& a, const std::string& b, int each) {
    std::vector<std::string> out;
    for (int i = 0; i < each; ++i) out.insert(out.end(), {a, b});
    return out;
}

const std::string kVaryLanguage =
    "/lang?h=Cache-Control:max-age%3D60&h=Vary:Accept-Language&echo=Accept-Language&delay_ms=700";

TEST_CASE("collapsing with Vary: concurrent misses for two variants make one origin request each") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    // Cold: nobody knows yet that /lang varies. The first response's waiters
    // that select it are served from it; the others collapse on their own variant.
    const std::vector<std::string> cold = alternate("en", "fr", 10);
    const std::vector<HttpReply> first = concurrent_languages(f.lbd.port(), kVaryLanguage, cold);
    check_variant(cold, first, "en");
    check_variant(cold, first, "fr");
    CHECK(f.origin.count("/lang") == 2);

    // Known to vary: later concurrent misses collapse per variant from the
    // start: each request waits once, for its own variant (9 + 9 waits), not
    // first for another variant's response and then again for its own.
    const uint16_t admin = admin_port(f.lbd);
    const std::string collapsed = "lbd_http_cache_collapsed_total{zone=\"z\"}";
    const double before = metric(admin, collapsed);
    const std::vector<std::string> warm = alternate("de", "it", 10);
    const std::vector<HttpReply> second = concurrent_languages(f.lbd.port(), kVaryLanguage, warm);
    check_variant(warm, second, "de");
    check_variant(warm, second, "it");
    CHECK(f.origin.count("/lang") == 4);
    CHECK(metric(admin, collapsed) - before == 18);

    // And they are stored: a hit each, same bytes as before.
    const std::vector<HttpReply> again = concurrent_languages(f.lbd.port(), kVaryLanguage, {"fr", "it"});
    CHECK(again[0].header("X-Cache-Status") == "HIT");
    CHECK(again[1].header("X-Cache-Status") == "HIT");
    CHECK(has(again[0].body, "accept-language=fr\n"));
    CHECK(has(again[1].body, "accept-language=it\n"));
    CHECK(f.origin.count("/lang") == 4);
}

TEST_CASE("collapsing with Vary: * : no waiter is answered with another request's response") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const std::vector<std::string> languages = alternate("en", "en", 5);
    const std::vector<HttpReply> replies = concurrent_languages(
        f.lbd.port(), "/star?h=Cache-Control:max-age%3D60&h=Vary:*&echo=Accept-Language&delay_ms=300", languages);
    std::set<std::string> bodies;
    for (const HttpReply& reply : replies) {
        CHECK(reply.status == 200);
        CHECK(reply.header("X-Cache-Status") == "MISS");
        bodies.insert(reply.body);  // "n=COUNT": one per origin request
    }
    CHECK(bodies.size() == languages.size());
    CHECK(f.origin.count("/star") == static_cast<int>(languages.size()));
}

}  // namespace
}  // namespace lbd::test
