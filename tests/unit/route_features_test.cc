// Regex routes, templates, splits by client and response rewrites without a connection: configs
// are loaded through the real loader (so the regexes are compiled as lbd compiles them), requests
// parsed by core/http1 and copied as the proxy copies them.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "core/base/hash.h"
#include "core/config/config_loader.h"
#include "l7/http1.h"
#include "l7/response_rewrite.h"
#include "l7/router.h"
#include "l7/variables.h"
#include "l7/weighted_split.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using l7::RequestInfo;
using test::all_errors;
using test::column_of;
using test::line_of;

std::string http_config(const std::string& http_body) {
    return "listeners {\n"
           "  name: \"web\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  mode: MODE_HTTP\n"
           "  pool: \"p\"\n"
           "  http {\n" +
           http_body +
           "  }\n"
           "}\n"
           "pools {\n"
           "  name: \"p\"\n"
           "  servers { name: \"s1\" address: \"127.0.0.1:9001\" }\n"
           "}\n"
           "pools {\n"
           "  name: \"q\"\n"
           "  servers { name: \"s2\" address: \"127.0.0.1:9002\" }\n"
           "}\n";
}

struct Loaded {
    ConfigLoadResult result;
    const HttpConfig& http() const { return result.config->listeners.at(0).http; }
};

Loaded load(const std::string& http_body) {
    Loaded out{load_config_text(http_config(http_body), "test.conf")};
    INFO(all_errors(out.result));
    REQUIRE(out.result.config.has_value());
    return out;
}

RequestInfo get(const std::string& target, const std::string& host = "www.example.com") {
    static std::string keep;
    keep = "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    l7::HttpRequestHead head;
    REQUIRE(l7::parse_request_head(keep, l7::HttpLimits{}, head).status == l7::HeadStatus::kComplete);
    return l7::copy_request(head);
}

std::string routed(const HttpConfig& http, const RequestInfo& request, l7::RegexGroups* groups = nullptr) {
    const HttpRouteConfig* route = l7::match_route(http, request, groups);
    return route == nullptr ? "default" : route->name;
}

const l7::ClientEndpoint kClient{*SocketAddress::parse("203.0.113.9:5000"), 80, "https"};

}  // namespace

TEST_CASE("regex routes: case-sensitive and not, host regexes, in the configured order") {
    Loaded config = load(
        "    routes { name: \"exact\" match { path_exact: \"/api/v1/health\" } pool: \"p\" }\n"
        "    routes { name: \"v1\" match { path_regex: \"^/api/v1(/|$)\" } pool: \"q\" }\n"
        "    routes { name: \"static\" match { path_regex: \"\\\\.(jpg|css|js)$\" path_regex_ignore_case: true }"
        " pool: \"q\" }\n"
        "    routes { name: \"api\" match { path_prefix: \"/api/\" } pool: \"p\" }\n"
        "    routes { name: \"hosts\" match { host_regex: \"^(www|shop)\\\\.example\\\\.(com|org)$\" } pool: \"p\" }\n");
    const HttpConfig& http = config.http();
    // First match in file order: the exact route before the regex that also matches it.
    CHECK(routed(http, get("/api/v1/health")) == "exact");
    CHECK(routed(http, get("/api/v1/users", "x")) == "v1");
    CHECK(routed(http, get("/api/v1", "x")) == "v1");
    CHECK(routed(http, get("/api/v10", "x")) == "api");  // the regex wants '/' or the end after v1
    CHECK(routed(http, get("/API/v1/users", "x")) == "default");  // ~ is case-sensitive
    CHECK(routed(http, get("/img/a.JPG", "x")) == "static");      // ~* is not
    CHECK(routed(http, get("/img/a.jpg?v=2", "x")) == "static");  // the query is not the path
    CHECK(routed(http, get("/img/a.jpgx", "x")) == "default");
    // A regex route written before a prefix takes the request (nginx: regex before plain prefix).
    CHECK(routed(http, get("/api/app.js", "x")) == "static");
    CHECK(routed(http, get("/", "Shop.Example.ORG:8080")) == "hosts");  // host lower-cased, port dropped
    CHECK(routed(http, get("/", "shop.example.net")) == "default");
}

TEST_CASE("regex routes: groups fill rewrite_path and redirect locations, and never leak between routes") {
    Loaded config = load(
        "    routes { name: \"img\" match { path_regex: \"^/img/(\\\\w+)/(.*)$\" } pool: \"p\""
        " rewrite_path: \"/static/$2/$1\" }\n"
        "    routes { name: \"old\" match { path_regex: \"^/old/(.*)\" }"
        " redirect { status: 301 location: \"https://$host/new/$1\" } }\n"
        "    routes { name: \"www\" match { host_regex: \"^www\\\\.(.+)$\" }"
        " redirect { location: \"$scheme://$1$request_uri\" } }\n"
        "    routes { name: \"plain\" match { path_prefix: \"/\" } pool: \"p\" }\n");
    const HttpConfig& http = config.http();
    l7::RegexGroups groups;
    RequestInfo img = get("/img/cats/a/b.png?x=1", "cdn.example.com");
    REQUIRE(routed(http, img, &groups) == "img");
    std::string original = img.path;
    l7::VariableSource vars{img, kClient, original, &groups, original};
    CHECK(l7::rewrite_path_template(http.routes[0], vars, img));
    CHECK(img.path == "/static/a/b.png/cats");
    CHECK(img.query == "?x=1");

    RequestInfo old = get("/old/x/y?z", "a.example.com");
    REQUIRE(routed(http, old, &groups) == "old");
    l7::VariableSource old_vars{old, kClient, "", &groups, old.path};
    CHECK(l7::redirect_location(http.routes[1].redirect, old, "https", &old_vars) == "https://a.example.com/new/x/y");

    RequestInfo www = get("/p?q=1", "www.example.org");
    REQUIRE(routed(http, www, &groups) == "www");
    CHECK(groups.of_host);
    l7::VariableSource www_vars{www, kClient, "", &groups, www.host};
    CHECK(l7::redirect_location(http.routes[2].redirect, www, "https", &www_vars) == "https://example.org/p?q=1");

    // "/old" matches neither regex; the plain route must not see the groups of the routes tried before.
    RequestInfo plain = get("/img/", "www2.example.org");
    REQUIRE(routed(http, plain, &groups) == "plain");
    CHECK(groups.count == 0);
}

TEST_CASE("templates: variables expand from the request, the client and the request id") {
    Loaded config = load(
        "    request_id { }\n"
        "    request_headers { set { name: \"X-Client\" value: \"$remote_addr:${remote_port} via $scheme\" }\n"
        "      set { name: \"X-Uri\" value: \"$host $request_uri $uri $args $$5\" }\n"
        "      set { name: \"X-Id\" value: \"id=$request_id\" }\n"
        "      set { name: \"X-Plain\" value: \"no variables\" } }\n");
    const HttpConfig& http = config.http();
    CHECK(http.request_id_header == "X-Request-Id");
    RequestInfo request = get("/v2/a?b=c", "Www.Example.com:8080");
    l7::RequestId id;
    l7::VariableSource vars{request, kClient, "/api/a", nullptr, "", &id};
    l7::HeaderList headers;
    l7::apply_header_actions(headers, http.request_headers, &vars);
    REQUIRE(headers.size() == 4);
    CHECK(headers[0].second == "203.0.113.9:5000 via https");
    CHECK(headers[1].second == "www.example.com /api/a?b=c /v2/a b=c $5");
    REQUIRE(!id.empty());
    CHECK(id.view().size() == 32);
    CHECK(headers[2].second == "id=" + std::string(id.view()));  // made on first use, then kept
    CHECK(headers[3].second == "no variables");
    CHECK(!http.request_headers.set[3].value_template.dynamic());  // plain values are copied as written
    l7::RequestId other;
    other.generate();
    CHECK(other.view() != id.view());
    CHECK(other.view().find_first_not_of("0123456789abcdef") == std::string_view::npos);
}

TEST_CASE("config errors: a bad regex with PCRE2's message and offset, unknown variables, missing groups") {
    auto one_error = [](const std::string& body, const std::string& at, const std::string& message) {
        const std::string text = http_config(body);
        ConfigLoadResult result = load_config_text(text, "test.conf");
        INFO(all_errors(result));
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].message == message);
        CHECK(result.errors[0].line == line_of(text, at));
        CHECK(result.errors[0].column == column_of(text, at));
    };
    one_error("    routes { match { path_regex: \"^/(a|b\" } pool: \"p\" }\n", "path_regex",
              "path_regex '^/(a|b': missing closing parenthesis at offset 6");
    one_error("    routes { match { host_regex: \"*x\" } pool: \"p\" }\n", "host_regex",
              "host_regex '*x': quantifier does not follow a repeatable item at offset 0");
    one_error("    request_headers { add { name: \"X-A\" value: \"$remote_user\" } }\n", "add {",
              "header 'X-A': unknown variable $remote_user (known: $remote_addr $remote_port $host $scheme "
              "$request_uri $uri $args $request_id; $$ is a '$')");
    one_error("    routes { match { path_regex: \"^/(a)\" } pool: \"p\" rewrite_path: \"/$2\" }\n", "rewrite_path",
              "route #1: rewrite_path: $2 is not a group of the route's regex (it has 1)");
    one_error("    routes { match { path_prefix: \"/a\" } pool: \"p\" rewrite_path: \"/b\" }\n", "rewrite_path",
              "route #1: rewrite_path needs match.path_regex");
    one_error("    routes { pool: \"p\" request_headers { set { name: \"X-G\" value: \"$1\" } } }\n", "set {",
              "header 'X-G': $1 is not a group of the route's regex (none here)");
    one_error("    routes { split { pools { pool: \"p\" weight: 1 } by: SPLIT_BY_HEADER } }\n", "by:",
              "split by header or cookie needs `key`, a header or cookie name (got '')");
}

TEST_CASE("split by client: the hash maps onto the weights, the same key always to the same pool") {
    l7::WeightedSplit split({{"a", 80}, {"b", 20}, {"c", 0}});
    std::map<size_t, int> count;
    for (int i = 1; i <= 2000; ++i) {
        const std::string address = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        const size_t side = split.by_hash(hash64(address));
        CHECK(side == split.by_hash(hash64(address)));
        ++count[side];
    }
    CHECK(count[2] == 0);  // weight 0 takes no new client
    CHECK(count[0] > 1500);
    CHECK(count[0] < 1700);
    CHECK(count[0] + count[1] == 2000);
}

TEST_CASE("response rewrites: Set-Cookie domain and path, Location and Refresh") {
    Loaded config = load(
        "    routes { match { path_prefix: \"/app/\" } pool: \"p\" replace_path_prefix: \"/\"\n"
        "      cookie_domain { from: \"internal.local\" to: \"www.example.com\" }\n"
        "      cookie_domain { from: \"drop.local\" to: \"\" }\n"
        "      cookie_path { from: \"/\" to: \"/app/\" }\n"
        "      redirect_rewrite { from: \"http://legacy:8080/\" to: \"https://www.example.com/app/\" }\n"
        "      redirect_rewrite_default: true }\n");
    const HttpRouteConfig& route = config.http().routes.at(0);
    CHECK(l7::rewrite_set_cookie(route, "sid=1; Domain=.Internal.Local; Path=/; HttpOnly") ==
          "sid=1; Domain=www.example.com; Path=/app/; HttpOnly");
    CHECK(l7::rewrite_set_cookie(route, "a=b;domain=drop.local;Secure") == "a=b;Secure");
    CHECK(l7::rewrite_set_cookie(route, "a=b; Domain=other.com") == std::nullopt);
    CHECK(l7::rewrite_set_cookie(route, "path=/x") == std::nullopt);  // the cookie's own name is not an attribute

    const l7::RedirectContext context{"10.0.0.5:8080", "https", "www.example.com"};
    CHECK(l7::rewrite_redirect_url(route, "http://legacy:8080/x?y", context) == "https://www.example.com/app/x?y");
    CHECK(l7::rewrite_redirect_url(route, "http://10.0.0.5:8080/login?next=/", context) ==
          "https://www.example.com/app/login?next=/");
    CHECK(l7::rewrite_redirect_url(route, "http://10.0.0.5:8080", context) == "https://www.example.com/app/");
    CHECK(l7::rewrite_redirect_url(route, "http://10.0.0.5:80801/x", context) == std::nullopt);
    CHECK(l7::rewrite_redirect_url(route, "/login", context) == "/app/login");
    CHECK(l7::rewrite_redirect_url(route, "https://elsewhere.org/", context) == std::nullopt);

    l7::HeaderList headers{{"Location", "http://10.0.0.5:8080/a"},
                           {"Refresh", "3; url=http://legacy:8080/b"},
                           {"Set-Cookie", "s=1; Path=/"}};
    l7::rewrite_response_headers(route, headers, context);
    CHECK(headers[0].second == "https://www.example.com/app/a");
    CHECK(headers[1].second == "3; url=https://www.example.com/app/b");
    CHECK(headers[2].second == "s=1; Path=/app/");
}

}  // namespace lbd
