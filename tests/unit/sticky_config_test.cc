// The loader's checks of weighted splits and cookie stickiness
// (l7/config/config_cookie.cc): the typed result, and each error at the line of
// the field it is about.
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using test::all_errors;
using test::line_of;

// An HTTP listener with `routes`, pools "v1" and "v2" (v2 with `v2_extra`),
// and a TCP listener on pool "tcp" (with `tcp_extra`).
std::string config(const std::string& routes, const std::string& v2_extra = "", const std::string& tcp_extra = "") {
    return "listeners {\n"
           "  name: \"web\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n"
           "  pool: \"v1\"\n"
           "  http {\n" +
           routes +
           "  }\n"
           "}\n"
           "listeners { name: \"raw\" bind: \"127.0.0.1:0\" pool: \"tcp\" }\n"
           "pools {\n"
           "  name: \"v1\"\n"
           "  servers { name: \"a\" address: \"127.0.0.1:9001\" }\n"
           "}\n"
           "pools {\n"
           "  name: \"v2\"\n"
           "  servers { name: \"b\" address: \"127.0.0.1:9002\" }\n" +
           v2_extra +
           "}\n"
           "pools {\n"
           "  name: \"tcp\"\n"
           "  servers { name: \"c\" address: \"127.0.0.1:9003\" }\n" +
           tcp_extra + "}\n";
}

// Exactly one error, `message`, on the line where `at` first appears.
constexpr auto expect_error = test::expect_error_on_line;

const std::string kSplit =
    "    routes {\n"
    "      name: \"canary\"\n"
    "      split {\n"
    "        pools { pool: \"v1\" weight: 90 }\n"
    "        pools { pool: \"v2\" weight: 10 }\n"
    "      }\n"
    "    }\n";

TEST_CASE("a split route is typed with its pools and weights") {
    ConfigLoadResult result = load_config_text(config(kSplit), "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    const HttpRouteConfig& route = result.config->listeners[0].http.routes.at(0);
    CHECK(route.action == HttpRouteAction::kSplit);
    REQUIRE(route.split.size() == 2);
    CHECK(route.split[0].pool == "v1");
    CHECK(route.split[0].weight == 90);
    CHECK(route.split[1].pool == "v2");
    CHECK(route.split[1].weight == 10);
}

TEST_CASE("a split names known pools, once each, with weights that are not all 0") {
    std::string unknown = config(
        "    routes { name: \"r\" split {\n"
        "      pools { pool: \"v1\" weight: 1 }\n"
        "      pools { pool: \"v3\" weight: 1 }\n"
        "    } }\n");
    expect_error(unknown, "\"v3\"", "route 'r': split refers to unknown pool 'v3'");

    std::string twice = config(
        "    routes { name: \"r\" split {\n"
        "      pools { pool: \"v1\" weight: 1 }\n"
        "      pools { pool: \"v1\" weight: 2 }\n"
        "    } }\n");
    ConfigLoadResult twice_result = load_config_text(twice, "test.conf");
    REQUIRE(twice_result.errors.size() == 1);
    CHECK(twice_result.errors[0].message == "route 'r': pool 'v1' appears twice in the split (first at line " +
                                                std::to_string(line_of(twice, "weight: 1 }")) + ")");
    CHECK(twice_result.errors[0].line == line_of(twice, "weight: 2 }"));

    std::string zero = config(
        "    routes { name: \"r\"\n"
        "      split {\n"
        "        pools { pool: \"v1\" weight: 0 }\n"
        "        pools { pool: \"v2\" }\n"
        "      }\n"
        "    }\n");
    expect_error(zero, "split {", "route 'r': the split's weights are all 0 (no pool would take a request)");

    expect_error(config("    routes { name: \"r\"\n      split {}\n    }\n"), "split {}",
                 "route 'r': split needs at least one pool");
    expect_error(config("    routes { name: \"r\" split { pools { pool: \"v1\"\n      weight: 10001 } } }\n"),
                 "weight: 10001", "route 'r': split weight 10001 out of range 0..10000");
    expect_error(config("    routes { name: \"r\" split {\n      pools { weight: 1 } } }\n"), "pools { weight",
                 "route 'r': split entry has no pool");
}

TEST_CASE("cookie stickiness is typed, with INSERT attributes and their defaults") {
    std::string text = config("",
                              "  stickiness {\n"
                              "    ttl_ms: 60000\n"
                              "    cookie { name: \"LBSRV\" mode: INSERT max_age_s: 3600 secure: true http_only: true "
                              "same_site: \"Lax\" }\n"
                              "  }\n");
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    const StickinessConfig& sticky = result.config->pools.at(1).stickiness;
    CHECK(sticky.enabled);
    CHECK(sticky.ttl_ms == 60000);
    CHECK(sticky.cookie.mode == CookieMode::kInsert);
    CHECK(sticky.cookie.name == "LBSRV");
    CHECK(sticky.cookie.path == "/");
    CHECK(sticky.cookie.max_age_s == 3600);
    CHECK(sticky.cookie.secure);
    CHECK(sticky.cookie.http_only);
    CHECK(sticky.cookie.same_site == "Lax");
    CHECK(result.config->pools.at(0).stickiness.cookie.mode == CookieMode::kNone);

    ConfigLoadResult learn = load_config_text(
        config("", "  stickiness { cookie { name: \"JSESSIONID\" mode: LEARN } }\n"), "test.conf");
    REQUIRE(learn.config.has_value());
    CHECK(learn.config->pools.at(1).stickiness.cookie.mode == CookieMode::kLearn);
}

TEST_CASE("cookie stickiness errors name the field's line") {
    expect_error(config("", "  stickiness { cookie {\n    name: \"S\" } }\n"), "cookie {",
                 "stickiness cookie needs a mode: INSERT or LEARN");
    expect_error(config("", "  stickiness { cookie {\n    mode: INSERT } }\n"), "cookie {",
                 "stickiness cookie has no name");
    expect_error(config("", "  stickiness { cookie { mode: INSERT\n    name: \"a b\" } }\n"), "name: \"a b\"",
                 "bad cookie name 'a b' (a token: no spaces, '=', ';', ...)");
    expect_error(config("", "  stickiness { cookie { name: \"S\" mode: INSERT\n    same_site: \"lax\" } }\n"),
                 "same_site", "cookie same_site 'lax' must be Strict, Lax or None");
    expect_error(config("", "  stickiness { cookie { name: \"S\" mode: INSERT\n    same_site: \"None\" } }\n"),
                 "same_site", "cookie same_site None needs secure: true");
    expect_error(config("", "  stickiness { cookie { name: \"S\" mode: INSERT\n    path: \"x\" } }\n"), "path:",
                 "bad cookie path 'x': must start with '/'");
    expect_error(config("", "  stickiness {\n    cookie { name: \"S\" mode: LEARN secure: true } }\n"), "cookie {",
                 "stickiness cookie: path, max_age_s, secure, http_only, same_site and domain are for mode INSERT "
                 "(LEARN never writes the cookie)");
    expect_error(config("", "", "  stickiness {\n    cookie { name: \"S\" mode: INSERT } }\n"), "cookie { name: \"S\"",
                 "pool 'tcp' has cookie stickiness, but TCP listener 'raw' uses it (cookies need mode: MODE_HTTP)");
}

}  // namespace
}  // namespace lbd
