// The loader's checks of a listener's http block (l7/config/config_http.cc): defaults, the typed
// result, and each error at the line and column of the field it is about.
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

// An HTTP listener "web" with `http_body` inside its http block, and pools "p" and "api".
std::string http_config(const std::string& http_body, const std::string& listener_extra = "  pool: \"p\"\n") {
    return "listeners {\n"
           "  name: \"web\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n" +
           listener_extra +
           "  http {\n" + http_body +
           "  }\n"
           "}\n"
           "pools {\n"
           "  name: \"p\"\n"
           "  servers { name: \"s1\" address: \"127.0.0.1:9001\" }\n"
           "}\n"
           "pools {\n"
           "  name: \"api\"\n"
           "  servers { name: \"a1\" address: \"127.0.0.1:9002\" }\n"
           "}\n";
}

// Exactly one error, `message`, on the line where `at` first appears.
constexpr auto expect_error = test::expect_error_on_line;

const HttpConfig& http_of(const ConfigLoadResult& result) {
    INFO(all_errors(result));
    REQUIRE(result.config.has_value());
    return result.config->listeners.at(0).http;
}

TEST_CASE("an HTTP listener with no http block takes the defaults") {
    ConfigLoadResult result = load_config_text(http_config(""), "test.conf");
    const HttpConfig& http = http_of(result);
    CHECK(result.config->listeners[0].mode == ListenerMode::kHttp);
    CHECK(http.routes.empty());
    CHECK(http.forwarded.x_forwarded_for);
    CHECK(http.forwarded.x_real_ip);
    CHECK_FALSE(http.forwarded.forwarded);
    CHECK(http.timeouts.client_header_ms == 10000);
    CHECK(http.timeouts.server_response_ms == 60000);
    CHECK(http.timeouts.server_idle_ms == 15000);
    CHECK(http.limits.max_header_bytes == 32768);
    CHECK(http.limits.max_body_bytes == 0);
    CHECK(http.max_idle_per_server == 256);
    CHECK(http.log_format == HttpLogFormat::kText);
}

TEST_CASE("routes, forwarding, timeouts, limits and error pages are typed") {
    const std::string body =
        "    routes {\n"
        "      name: \"api\"\n"
        "      match { hosts: \"API.example.com\" hosts: \"*.example.org\" path_prefix: \"/api\" methods: \"GET\" "
        "headers { name: \"X-Canary\" value: \"1\" } }\n"
        "      pool: \"api\"\n"
        "      strip_path_prefix: true\n"
        "      request_headers { set { name: \"X-Route\" value: \"api\" } remove: \"Cookie\" }\n"
        "    }\n"
        "    routes { match { path_exact: \"/old\" } redirect { status: 301 scheme: \"https\" } }\n"
        "    routes { match { path_exact: \"/health\" } respond { body: \"ok\\n\" } }\n"
        "    forwarded { trusted_proxies: \"10.0.0.0/8\" x_real_ip: false forwarded: true via: true }\n"
        "    response_headers { set { name: \"Strict-Transport-Security\" value: \"max-age=63072000\" } }\n"
        "    timeouts { client_header_ms: 500 server_response_ms: 700 server_idle_ms: 2500 }\n"
        "    limits { max_body_bytes: 1048576 max_uri_bytes: 1024 }\n"
        "    error_pages { status: 503 body: \"busy\\n\" }\n"
        "    log_format: HTTP_LOG_FORMAT_JSON\n"
        "    server_keep_alive_disabled: true\n";
    ConfigLoadResult result = load_config_text(http_config(body), "test.conf");
    const HttpConfig& http = http_of(result);
    REQUIRE(http.routes.size() == 3);
    const HttpRouteConfig& api = http.routes[0];
    CHECK(api.name == "api");
    CHECK(api.action == HttpRouteAction::kPool);
    CHECK(api.pool == "api");
    REQUIRE(api.match.hosts.size() == 2);
    CHECK(api.match.hosts[0].text == "api.example.com");  // lower-cased
    CHECK_FALSE(api.match.hosts[0].wildcard);
    CHECK(api.match.hosts[1].wildcard);
    CHECK(api.match.hosts[1].suffix == ".example.org");
    CHECK(api.match.path_prefix == "/api");
    CHECK(api.match.headers.at(0).name == "x-canary");
    CHECK(api.strip_path_prefix);
    CHECK(api.request_headers.set.at(0).name == "X-Route");
    CHECK(api.request_headers.remove.at(0) == "Cookie");
    CHECK(http.routes[1].action == HttpRouteAction::kRedirect);
    CHECK(http.routes[1].redirect.status == 301);
    CHECK(http.routes[1].redirect.scheme == "https");
    CHECK(http.routes[2].action == HttpRouteAction::kRespond);
    CHECK(http.routes[2].respond.status == 200);
    CHECK(http.routes[2].respond.body == "ok\n");
    CHECK(http.forwarded.trusted_proxies.size() == 1);
    CHECK_FALSE(http.forwarded.x_real_ip);
    CHECK(http.forwarded.x_forwarded_for);
    CHECK(http.forwarded.forwarded);
    CHECK(http.forwarded.via);
    CHECK(http.response_headers.set.at(0).value == "max-age=63072000");
    CHECK(http.timeouts.client_header_ms == 500);
    CHECK(http.timeouts.server_response_ms == 700);
    CHECK(http.timeouts.client_keep_alive_ms == 60000);
    CHECK(http.timeouts.server_idle_ms == 2500);
    CHECK(http.limits.max_body_bytes == 1048576);
    CHECK(http.limits.max_uri_bytes == 1024);
    REQUIRE(http.error_page(503) != nullptr);
    CHECK(http.error_page(503)->body == "busy\n");
    CHECK(http.error_page(404) == nullptr);
    CHECK(http.log_format == HttpLogFormat::kJson);
    CHECK(http.max_idle_per_server == 0);
}

TEST_CASE("an HTTP listener may leave out the pool when it has routes") {
    std::string body = "    routes { match { path_prefix: \"/\" } pool: \"api\" }\n";
    ConfigLoadResult result = load_config_text(http_config(body, ""), "test.conf");
    CHECK(http_of(result).routes.size() == 1);
    CHECK(result.config->listeners[0].pool.empty());
}

TEST_CASE("errors in the http block name their line") {
    SUBCASE("no pool and no routes") {
        std::string text = http_config("", "");
        expect_error(text, "listeners {", "listener 'web' has no pool and no routes");
    }
    SUBCASE("route to an unknown pool") {
        std::string text = http_config("    routes {\n      pool: \"nope\"\n    }\n");
        expect_error(text, "pool: \"nope\"", "route #1 refers to unknown pool 'nope'");
    }
    SUBCASE("route without action") {
        std::string text = http_config("    routes {\n      name: \"r\"\n    }\n");
        expect_error(text, "routes {", "route 'r' has no action: set pool, split, redirect, respond or static_files");
    }
    SUBCASE("two actions are a syntax error (oneof)") {
        std::string text = http_config("    routes { pool: \"p\" respond { status: 200 } }\n");
        ConfigLoadResult result = load_config_text(text, "test.conf");
        REQUIRE_FALSE(result.errors.empty());
        CHECK(result.errors[0].line == line_of(text, "routes {"));
    }
    SUBCASE("duplicate route name") {
        std::string text = http_config("    routes { name: \"a\" pool: \"p\" }\n    routes { name: \"a\" pool: \"p\" }\n");
        ConfigLoadResult result = load_config_text(text, "test.conf");
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].message == "duplicate route name 'a' (first defined at line 7)");
        CHECK(result.errors[0].line == 8);
    }
    SUBCASE("bad host pattern") {
        std::string text = http_config("    routes {\n      match { hosts: \"a.*.com\" }\n      pool: \"p\"\n    }\n");
        expect_error(text, "hosts:", "bad host 'a.*.com': expected a name, or *.name for its subdomains");
    }
    SUBCASE("path without a slash") {
        std::string text = http_config("    routes {\n      match { path_prefix: \"api\" }\n      pool: \"p\"\n    }\n");
        expect_error(text, "path_prefix:", "bad path 'api': must start with '/', without spaces, '?' or '#'");
    }
    SUBCASE("path exact and prefix together") {
        std::string text =
            http_config("    routes {\n      match {\n        path_exact: \"/a\"\n        path_prefix: \"/b\"\n      }\n"
                        "      pool: \"p\"\n    }\n");
        expect_error(text, "path_prefix:", "path_exact and path_prefix are both set");
    }
    SUBCASE("strip without a prefix match") {
        std::string text = http_config("    routes {\n      pool: \"p\"\n      strip_path_prefix: true\n    }\n");
        expect_error(text, "strip_path_prefix:", "route #1: a path prefix rewrite needs match.path_prefix");
    }
    SUBCASE("strip and replace together") {
        std::string text = http_config(
            "    routes {\n      match { path_prefix: \"/a\" }\n      pool: \"p\"\n      strip_path_prefix: true\n"
            "      replace_path_prefix: \"/b\"\n    }\n");
        expect_error(text, "replace_path_prefix:", "strip_path_prefix and replace_path_prefix are both set");
    }
    SUBCASE("redirect status") {
        std::string text = http_config(
            "    routes {\n      redirect {\n        status: 303\n        scheme: \"https\"\n      }\n    }\n");
        expect_error(text, "status: 303", "redirect status 303 must be 301, 302, 307 or 308");
    }
    SUBCASE("redirect to itself") {
        std::string text = http_config("    routes {\n      redirect {\n        status: 301\n      }\n    }\n");
        expect_error(text, "redirect {",
                     "redirect needs a location, or a scheme, host or port to change (it would loop)");
    }
    SUBCASE("redirect scheme") {
        std::string text = http_config("    routes {\n      redirect {\n        scheme: \"ftp\"\n      }\n    }\n");
        expect_error(text, "scheme:", "redirect scheme 'ftp' must be http or https");
    }
    SUBCASE("location beside a scheme") {
        std::string text = http_config(
            "    routes {\n      redirect {\n        location: \"https://x/\"\n        scheme: \"https\"\n      }\n    }\n");
        expect_error(text, "location:", "redirect: location is a whole URL; scheme, host and port cannot be set beside it");
    }
    SUBCASE("fixed response status") {
        std::string text = http_config("    routes {\n      respond {\n        status: 99\n      }\n    }\n");
        expect_error(text, "status: 99", "respond status 99 out of range 200..599");
    }
    SUBCASE("a managed header cannot be set") {
        std::string text =
            http_config("    request_headers {\n      set { name: \"Content-Length\" value: \"5\" }\n    }\n");
        expect_error(text, "set {", "set: header 'Content-Length' is managed by lbd and cannot be set");
    }
    SUBCASE("a header value with a line break") {
        std::string text = http_config("    response_headers {\n      add { name: \"X-A\" value: \"a\\r\\nb\" }\n    }\n");
        expect_error(text, "add {", "add: bad value for header 'X-A' (control characters or edge whitespace)");
    }
    SUBCASE("a bad header name to remove") {
        std::string text = http_config("    response_headers {\n      remove: \"X A\"\n    }\n");
        expect_error(text, "remove:", "remove: bad header name 'X A'");
    }
    SUBCASE("bad trusted proxy") {
        std::string text = http_config("    forwarded {\n      trusted_proxies: \"10.0.0.0/40\"\n    }\n");
        expect_error(text, "trusted_proxies:", "bad CIDR '10.0.0.0/40': expected address/prefix, e.g. 10.0.0.0/8");
    }
    SUBCASE("header limit out of range") {
        std::string text = http_config("    limits {\n      max_header_bytes: 100\n      max_uri_bytes: 50\n    }\n");
        expect_error(text, "max_header_bytes:", "max_header_bytes 100 out of range 1024..1048576");
    }
    SUBCASE("URI limit above the header limit") {
        std::string text = http_config("    limits {\n      max_uri_bytes: 40000\n    }\n");
        expect_error(text, "max_uri_bytes:", "max_uri_bytes 40000 out of range 16..max_header_bytes (32768)");
    }
    SUBCASE("error page for a status lbd never sends") {
        std::string text = http_config("    error_pages {\n      status: 418\n      body: \"teapot\"\n    }\n");
        expect_error(text, "status: 418",
                     "error page status 418 is not one lbd answers with (400, 404, 408, 413, 414, 429, 431, 500, 501, "
                     "502, 503, 504, 505)");
    }
    SUBCASE("duplicate error page") {
        std::string text = http_config("    error_pages { status: 503 }\n    error_pages {\n      status: 503\n    }\n");
        expect_error(text, "status: 503\n", "duplicate error page for status 503");
    }
    SUBCASE("error page body too long") {
        std::string text = http_config("    error_pages {\n      status: 502\n      body: \"" + std::string(5000, 'x') +
                                       "\"\n    }\n");
        expect_error(text, "body:", "error page body is longer than 4096 bytes");
    }
    SUBCASE("accept_proxy on an HTTP listener: its CIDRs are checked") {
        std::string text =
            http_config("", "  pool: \"p\"\n  accept_proxy {\n    trusted_sources: \"10.0.0.0/33\"\n  }\n");
        expect_error(text, "trusted_sources", "bad CIDR '10.0.0.0/33': expected address/prefix, e.g. 10.0.0.0/8 or ::1/128");
    }
    SUBCASE("keep-alive both ways") {
        std::string text = http_config("    max_idle_per_server: 4\n    server_keep_alive_disabled: true\n");
        expect_error(text, "max_idle_per_server:", "max_idle_per_server and server_keep_alive_disabled are both set");
    }
}

}  // namespace
}  // namespace lbd
