// Unit tests for the L7 routing and header phases without a connection: route matching by host,
// path, method and header (l7/router.h), prefix rewrites, redirect locations, header actions and
// forwarding headers (l7/http_message.h). Requests are built the way the proxy builds them: parsed
// by core/http1, then copied (copy_request).
#include <doctest/doctest.h>

#include <string>

#include "l7/http1.h"
#include "l7/http_message.h"
#include "l7/router.h"

namespace {

using lbd::HttpRouteConfig;
using lbd::l7::HeaderList;
using lbd::l7::RequestInfo;

RequestInfo request(const std::string& head_text) {
    static std::string keep;  // the parsed views point into it until copy_request copies them
    keep = head_text;
    lbd::l7::HttpRequestHead head;
    const auto parsed = lbd::l7::parse_request_head(keep, lbd::l7::HttpLimits{}, head);
    REQUIRE(parsed.status == lbd::l7::HeadStatus::kComplete);
    return lbd::l7::copy_request(head);
}

RequestInfo get(const std::string& target, const std::string& host = "www.example.com", const std::string& more = "") {
    return request("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + more + "\r\n");
}

lbd::HttpHostPattern host_pattern(const std::string& text) {
    lbd::HttpHostPattern pattern;
    pattern.text = text;
    if (text.rfind("*.", 0) == 0) {
        pattern.wildcard = true;
        pattern.suffix = text.substr(1);
    }
    return pattern;
}

HttpRouteConfig route(const std::string& name) {
    HttpRouteConfig r;
    r.name = name;
    return r;
}

// The name of the route `req` takes in `config`, or "default".
std::string routed(const lbd::HttpConfig& config, const RequestInfo& req) {
    const HttpRouteConfig* r = lbd::l7::match_route(config, req);
    return r ? r->name : "default";
}

std::string header_text(const HeaderList& headers) {
    std::string out;
    for (const auto& [name, value] : headers) out += name + ": " + value + "\n";
    return out;
}

}  // namespace

TEST_CASE("router: the first route whose host, path, method and headers all match") {
    lbd::HttpConfig config;
    HttpRouteConfig api = route("api");
    api.match.hosts = {host_pattern("api.example.com")};
    api.match.path_prefix = "/v1/";
    HttpRouteConfig wild = route("wild");
    wild.match.hosts = {host_pattern("*.example.com")};
    wild.match.methods = {"POST"};
    HttpRouteConfig beta = route("beta");
    beta.match.path_exact = "/";
    beta.match.headers = {{"x-beta", "1"}};
    HttpRouteConfig canary = route("canary");
    canary.match.headers = {{"x-canary", ""}};  // present, any value
    config.routes = {api, wild, beta, canary};

    CHECK(routed(config, get("/v1/users", "API.Example.com:8080")) == "api");  // host lower-cased, port dropped
    CHECK(routed(config, get("/v1/users", "api.example.com.")) == "api");      // fully qualified: the same name
    CHECK(routed(config, get("/v1/users", "api.example.com.:443")) == "api");
    CHECK(routed(config, get("/v2/users", "api.example.com")) == "default");
    CHECK(routed(config, get("/v1", "api.example.com")) == "default");  // a prefix is not a path
    CHECK(routed(config, request("POST /form HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 0\r\n\r\n")) ==
          "wild");
    CHECK(routed(config, request("post /form HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")) == "default");  // §9.1
    // "*.example.com" is any name under it, not example.com itself.
    CHECK(routed(config, request("POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n")) == "default");
    CHECK(routed(config, get("/", "a.b", "X-Beta: 1\r\n")) == "beta");
    CHECK(routed(config, get("/", "a.b", "x-beta: 2\r\n")) == "default");
    CHECK(routed(config, get("/?q=1", "a.b", "X-BETA: 1\r\n")) == "beta");  // the query is not the path
    CHECK(routed(config, get("/x", "a.b", "X-Canary: \r\n")) == "canary");
    // Absolute-form: the authority is the host.
    CHECK(routed(config, request("GET http://api.example.com/v1/x HTTP/1.1\r\nHost: other\r\n\r\n")) == "api");
}

TEST_CASE("router: prefix rewrites strip or replace the matched prefix, never leaving a path without '/'") {
    HttpRouteConfig strip = route("strip");
    strip.match.path_prefix = "/api";
    strip.strip_path_prefix = true;
    RequestInfo a = get("/api/users?x=1");
    lbd::l7::rewrite_path(strip, a);
    CHECK(a.path == "/users");
    CHECK(a.query == "?x=1");
    RequestInfo b = get("/api");
    lbd::l7::rewrite_path(strip, b);
    CHECK(b.path == "/");

    HttpRouteConfig replace = route("replace");
    replace.match.path_prefix = "/old/";
    replace.replace_path_prefix = "/new/";
    RequestInfo c = get("/old/page");
    lbd::l7::rewrite_path(replace, c);
    CHECK(c.path == "/new/page");
    replace.match.path_prefix = "/old";
    RequestInfo d = get("/old/page");
    lbd::l7::rewrite_path(replace, d);
    CHECK(d.path == "/new/page");  // no "//"
    RequestInfo untouched = get("/other");
    lbd::l7::rewrite_path(replace, untouched);
    CHECK(untouched.path == "/other");
}

TEST_CASE("router: redirect locations keep what the redirect does not set") {
    lbd::HttpRedirect to_https;
    to_https.scheme = "https";
    CHECK(lbd::l7::redirect_location(to_https, get("/a?b=c", "Www.Example.com:8080"), "http") ==
          "https://www.example.com/a?b=c");
    to_https.port = 8443;
    CHECK(lbd::l7::redirect_location(to_https, get("/"), "http") == "https://www.example.com:8443/");
    lbd::HttpRedirect moved;
    moved.host = "new.example.com";
    CHECK(lbd::l7::redirect_location(moved, get("/x"), "https") == "https://new.example.com/x");
    CHECK(lbd::l7::redirect_location(moved, request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), "http") ==
          "http://new.example.com/");
    lbd::HttpRedirect fixed;
    fixed.location = "https://status.example.com/";
    CHECK(lbd::l7::redirect_location(fixed, get("/x"), "http") == "https://status.example.com/");
}

TEST_CASE("headers: actions remove, then set, then add; names compare case-insensitively") {
    HeaderList headers = {{"Server", "backend"}, {"X-Powered-By", "php"}, {"Cache-Control", "no-cache"},
                          {"x-powered-by", "again"}};
    lbd::HttpHeaderActions actions;
    actions.remove = {"x-powered-by"};
    actions.set = {{"cache-control", "max-age=60"}, {"X-Frame-Options", "DENY"}};
    actions.add = {{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
    lbd::l7::apply_header_actions(headers, actions);
    CHECK(header_text(headers) ==
          "Server: backend\ncache-control: max-age=60\nX-Frame-Options: DENY\nSet-Cookie: a=1\nSet-Cookie: b=2\n");
    CHECK(*lbd::l7::find_header(headers, "CACHE-CONTROL") == "max-age=60");
    CHECK(lbd::l7::find_header(headers, "x-powered-by") == nullptr);
}

TEST_CASE("headers: forwarding headers replace a client's claims unless it is a trusted proxy") {
    lbd::HttpForwardedConfig config;
    config.forwarded = true;
    config.via = true;
    config.trusted_proxies = {*lbd::Cidr::parse("10.0.0.0/8")};
    lbd::l7::ClientEndpoint client{*lbd::SocketAddress::parse("203.0.113.9:5000"), 443, "https"};
    const std::string claims = "X-Forwarded-For: 1.2.3.4\r\nX-Real-IP: 1.2.3.4\r\nX-Forwarded-Proto: http\r\n"
                               "Forwarded: for=1.2.3.4\r\nVia: 1.1 edge\r\n";

    RequestInfo untrusted = get("/", "www.example.com", claims);
    lbd::l7::add_forwarding_headers(untrusted, config, client);
    CHECK(*lbd::l7::find_header(untrusted.headers, "x-forwarded-for") == "203.0.113.9");
    CHECK(*lbd::l7::find_header(untrusted.headers, "x-real-ip") == "203.0.113.9");
    CHECK(*lbd::l7::find_header(untrusted.headers, "x-forwarded-proto") == "https");
    CHECK(*lbd::l7::find_header(untrusted.headers, "x-forwarded-host") == "www.example.com");
    CHECK(*lbd::l7::find_header(untrusted.headers, "x-forwarded-port") == "443");
    CHECK(*lbd::l7::find_header(untrusted.headers, "forwarded") ==
          "for=203.0.113.9;proto=https;host=\"www.example.com\"");
    CHECK(*lbd::l7::find_header(untrusted.headers, "via") == "1.1 edge, 1.1 lbd");  // Via always appends
    // Every claim replaced once, in place of none of the other fields, the new ones appended in order.
    CHECK(header_text(untrusted.headers) ==
          "X-Forwarded-For: 203.0.113.9\nX-Real-IP: 203.0.113.9\nX-Forwarded-Proto: https\n"
          "X-Forwarded-Host: www.example.com\nX-Forwarded-Port: 443\n"
          "Forwarded: for=203.0.113.9;proto=https;host=\"www.example.com\"\nVia: 1.1 edge, 1.1 lbd\n");

    client.peer = *lbd::SocketAddress::parse("10.1.2.3:5000");
    RequestInfo trusted = get("/", "www.example.com", claims);
    lbd::l7::add_forwarding_headers(trusted, config, client);
    CHECK(*lbd::l7::find_header(trusted.headers, "x-forwarded-for") == "1.2.3.4, 10.1.2.3");
    CHECK(*lbd::l7::find_header(trusted.headers, "x-real-ip") == "1.2.3.4");
    CHECK(*lbd::l7::find_header(trusted.headers, "x-forwarded-proto") == "http");
    CHECK(header_text(trusted.headers) ==
          "X-Real-IP: 1.2.3.4\nX-Forwarded-Proto: http\nX-Forwarded-For: 1.2.3.4, 10.1.2.3\n"
          "X-Forwarded-Host: www.example.com\nX-Forwarded-Port: 443\n"
          "Forwarded: for=1.2.3.4, for=10.1.2.3;proto=https;host=\"www.example.com\"\nVia: 1.1 edge, 1.1 lbd\n");
    CHECK(*lbd::l7::find_header(trusted.headers, "forwarded") ==
          "for=1.2.3.4, for=10.1.2.3;proto=https;host=\"www.example.com\"");

    // Each header can be turned off.
    lbd::HttpForwardedConfig none;
    none.x_forwarded_for = none.x_real_ip = none.x_forwarded_proto = none.x_forwarded_host = none.x_forwarded_port =
        false;
    RequestInfo plain = get("/");
    lbd::l7::add_forwarding_headers(plain, none, client);
    CHECK(header_text(plain.headers) == "");
    // Turned off, an untrusted client's claims are removed, except X-Forwarded-For, passed on as sent.
    client.peer = *lbd::SocketAddress::parse("203.0.113.9:5000");
    RequestInfo claimed = get("/", "www.example.com", claims);
    lbd::l7::add_forwarding_headers(claimed, none, client);
    CHECK(header_text(claimed.headers) == "X-Forwarded-For: 1.2.3.4\nForwarded: for=1.2.3.4\nVia: 1.1 edge\n");
}
