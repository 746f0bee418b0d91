// L7 scenarios against the real lbd: curl and raw sockets through an HTTP listener to in-process
// HTTP backends that answer with their name and echo the request head they received. Routing,
// forwarding and hop-by-hop headers, header actions, local routes, keep-alive, pipelining.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/l7_scenario.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::test {
namespace {

TEST_CASE("curl through lbd: the backend answers, and both connections are reused") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    CurlRun run = curl({"-v", url(lbd.port(), "/one"), url(lbd.port(), "/two")});
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(has(run.output, "server=a\nGET /one HTTP/1.1"));
    CHECK(has(run.output, "server=a\nGET /two HTTP/1.1"));
    CHECK(has(run.output, "Re-using existing connection"));  // client side kept alive
    CHECK(a.requests() == 2);
    CHECK(a.connections() == 1);  // server side: the idle connection was reused

    auto line = lbd->await_line(http_line_for("/two"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "status") == "200");
    CHECK(field(*line, "server") == "web/a");
    CHECK(field(*line, "connect_ms") == "0");  // reused
    CHECK(field(*line, "conn") == "reused");
    CHECK(field(*line, "term") == "ok");
    // The first request connected: "new", though a loopback connect may well take 0 ms too.
    line = lbd->await_line(http_line_for("/one"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "conn") == "new");
}

TEST_CASE("server connections stay reused for responses of several reads under concurrent clients") {
    // A response longer than one read (64 KiB) could leave a read callback of its exchange queued
    // after the connection went idle; the idle pool took it for bytes from the server and closed the
    // connection, so most responses opened a new one (931 of 1000 in bench/compress.sh at -c50).
    HttpBackend a("a");
    // gzip keeps the worker busy, so a server read and the client's drain that completes the
    // response come in one turn of the loop, as under real load.
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    compression { gzip_level: 6 types: [\"text/*\", \"application/*\"] }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    l7::test::RunResult load = l7::test::run({"h2load", "--h1", "-n", "2000", "-c", "50", "-H", "Accept-Encoding: gzip",
                                             url(lbd.port(), "/bytes/200000")},
                                            120000);
    INFO(load.output);
    REQUIRE(has(load.output, "2000 succeeded, 0 failed, 0 errored"));
    // 50 clients on 2 workers: at most 50 server connections busy at once, each pooled for the next.
    MESSAGE("server connections: " << a.connections());
    CHECK(a.connections() <= 100);
}

TEST_CASE("an idle server connection is closed after server_idle_ms; the next request connects anew") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    timeouts { server_idle_ms: 300 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // One client connection, so that every request is on one worker (each has its own idle pool).
    UniqueFd client = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(client);
    auto request = [&](const std::string& path) { return request_on(client.get(), get_request(path)); };
    REQUIRE(request("/one"));
    const auto answered = std::chrono::steady_clock::now();
    REQUIRE(request("/two"));
    CHECK(a.connections() == 1);  // reused within server_idle_ms
    REQUIRE(poll_until([&] { return a.ended() != 0; }));
    CHECK(a.ended() == 1);  // lbd closed it
    const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - answered);
    CHECK(idle.count() >= 250);
    auto third = request("/three");
    REQUIRE(third);
    CHECK(has(third->body, "GET /three "));
    CHECK(a.connections() == 2);
}

TEST_CASE("routes pick the pool by host (exact, wildcard) and path, first match wins") {
    HttpBackend api("api"), stat("static"), org("org"), def("default");
    const std::string pools = http_pool("web", {&def}) + http_pool("api", {&api}) + http_pool("static", {&stat}) +
                              http_pool("org", {&org});
    const std::string routes =
        "    routes { name: \"api\" match { hosts: \"api.example.com\" } pool: \"api\" }\n"
        "    routes { name: \"static\" match { path_prefix: \"/static/\" } pool: \"static\" }\n"
        "    routes { name: \"org\" match { hosts: \"*.example.org\" } pool: \"org\" }\n"
        "    routes { name: \"post\" match { methods: \"POST\" headers { name: \"X-Canary\" value: \"1\" } } pool: \"org\" }\n";
    RunningLbd lbd(http_config(pools, routes));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    auto server_of = [&](const std::string& request) {
        auto reply = http_request(lbd.port(), request, kIoTimeoutMs);
        if (!reply) return std::string("<none>");
        return reply->body.substr(0, reply->body.find('\n'));
    };
    CHECK(server_of(get_request("/x", "API.example.com:8080")) == "server=api");
    CHECK(server_of(get_request("/static/app.js", "api.example.com")) == "server=api");  // first match wins
    CHECK(server_of(get_request("/static/app.js")) == "server=static");
    CHECK(server_of(get_request("/static")) == "server=default");  // prefix "/static/" only
    CHECK(server_of(get_request("/", "www.example.org")) == "server=org");
    CHECK(server_of(get_request("/", "example.org")) == "server=default");  // the wildcard needs a label
    CHECK(server_of("POST /form HTTP/1.1\r\nHost: x\r\nX-Canary: 1\r\nContent-Length: 2\r\n\r\nhi") == "server=org");
    CHECK(server_of("POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi") == "server=default");
    auto line = lbd->await_line(http_line_for("/static/app.js"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "route") == "api");
}

TEST_CASE("forwarding headers: replaced from an untrusted peer, appended from a trusted one") {
    HttpBackend a("a");
    const std::string request = get_request("/", "shop.example.com:8443",
                                            "X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: https\r\n");
    SUBCASE("untrusted") {
        RunningLbd lbd(http_config(http_pool("web", {&a}), "    forwarded { forwarded: true via: true }\n"));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        auto reply = http_request(lbd.port(), request, kIoTimeoutMs);
        REQUIRE(reply);
        INFO(reply->body);
        CHECK(has(reply->body, "X-Forwarded-For: 127.0.0.1\r\n"));
        CHECK_FALSE(has(reply->body, "198.51.100.7"));
        CHECK(has(reply->body, "X-Real-IP: 127.0.0.1\r\n"));
        CHECK(has(reply->body, "X-Forwarded-Proto: http\r\n"));
        CHECK(has(reply->body, "X-Forwarded-Host: shop.example.com:8443\r\n"));
        CHECK(has(reply->body, "X-Forwarded-Port: " + std::to_string(lbd.port()) + "\r\n"));
        CHECK(has(reply->body, "Forwarded: for=127.0.0.1;proto=http;host=\"shop.example.com:8443\"\r\n"));
        CHECK(has(reply->body, "Via: 1.1 lbd\r\n"));
        CHECK(reply->header("via") == "1.1 lbd");
    }
    SUBCASE("trusted") {
        RunningLbd lbd(http_config(http_pool("web", {&a}), "    forwarded { trusted_proxies: \"127.0.0.0/8\" }\n"));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        auto reply = http_request(lbd.port(), request, kIoTimeoutMs);
        REQUIRE(reply);
        INFO(reply->body);
        CHECK(has(reply->body, "X-Forwarded-For: 198.51.100.7, 127.0.0.1\r\n"));
        CHECK(has(reply->body, "X-Forwarded-Proto: https\r\n"));  // kept from the trusted proxy
        CHECK(has(reply->body, "X-Real-IP: 198.51.100.7\r\n"));    // the client, as access rules see it
    }
}

TEST_CASE("hop-by-hop headers are removed both ways; Server and X-Powered-By are hidden") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    hide_server_headers: true\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto reply = http_request(lbd.port(),
                              get_request("/", "example.com",
                                          "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 300\r\n"
                                          "TE: trailers\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n"),
                              kIoTimeoutMs);
    REQUIRE(reply);
    INFO(reply->head, reply->body);
    CHECK(has(reply->body, "X-Kept: yes\r\n"));
    for (const char* gone : {"X-Secret", "Keep-Alive", "TE:", "Proxy-Connection", "Connection:"})
        CHECK_FALSE(has(reply->body, gone));
    CHECK(reply->header("keep-alive").empty());  // the backend sent one
    CHECK(reply->header("server").empty());
    CHECK(reply->header("x-powered-by").empty());
    CHECK(reply->header("content-type") == "text/plain");
}

TEST_CASE("header actions and path prefix rewrites") {
    HttpBackend a("a");
    const std::string routes =
        "    routes {\n"
        "      match { path_prefix: \"/api/\" }\n"
        "      pool: \"web\"\n"
        "      strip_path_prefix: true\n"
        "      request_headers { set { name: \"X-Route\" value: \"api\" } remove: \"X-Drop\" add { name: \"X-Two\" value: \"2\" } }\n"
        "      response_headers { set { name: \"X-Resp\" value: \"r\" } }\n"
        "    }\n"
        "    routes { match { path_prefix: \"/v1\" } pool: \"web\" replace_path_prefix: \"/v2\" }\n"
        "    response_headers { set { name: \"Strict-Transport-Security\" value: \"max-age=63072000\" } }\n";
    RunningLbd lbd(http_config(http_pool("web", {&a}), routes));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto reply = http_request(lbd.port(), get_request("/api/users?id=7", "x", "X-Drop: 1\r\nX-Route: client\r\n"),
                              kIoTimeoutMs);
    REQUIRE(reply);
    INFO(reply->head, reply->body);
    CHECK(has(reply->body, "GET /users?id=7 HTTP/1.1\r\n"));
    CHECK(has(reply->body, "X-Route: api\r\n"));
    CHECK_FALSE(has(reply->body, "X-Route: client"));
    CHECK_FALSE(has(reply->body, "X-Drop"));
    CHECK(has(reply->body, "X-Two: 2\r\n"));
    CHECK(reply->header("x-resp") == "r");
    CHECK(reply->header("strict-transport-security") == "max-age=63072000");

    auto v1 = http_request(lbd.port(), get_request("/v1/items"), kIoTimeoutMs);
    REQUIRE(v1);
    CHECK(has(v1->body, "GET /v2/items HTTP/1.1\r\n"));
}

TEST_CASE("redirect and fixed-response routes answer without a server") {
    HttpBackend a("a");
    const std::string routes =
        "    routes { name: \"to-https\" match { hosts: \"old.example.com\" } redirect { status: 308 scheme: \"https\" host: \"new.example.com\" } }\n"
        "    routes { match { path_exact: \"/moved\" } redirect { location: \"https://example.net/here\" } }\n"
        "    routes { match { path_exact: \"/health\" } respond { status: 200 body: \"healthy\\n\" } }\n"
        "    response_headers { set { name: \"X-Frame-Options\" value: \"DENY\" } }\n";
    RunningLbd lbd(http_config(http_pool("web", {&a}), routes));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto r1 = http_request(lbd.port(), get_request("/a/b?c=d", "old.example.com"), kIoTimeoutMs);
    REQUIRE(r1);
    CHECK(r1->status == 308);
    CHECK(r1->header("location") == "https://new.example.com/a/b?c=d");
    auto r2 = http_request(lbd.port(), get_request("/moved"), kIoTimeoutMs);
    REQUIRE(r2);
    CHECK(r2->status == 302);
    CHECK(r2->header("location") == "https://example.net/here");
    auto r3 = http_request(lbd.port(), get_request("/health"), kIoTimeoutMs);
    REQUIRE(r3);
    CHECK(r3->status == 200);
    CHECK(r3->body == "healthy\n");
    CHECK(r3->header("x-frame-options") == "DENY");
    CHECK(a.requests() == 0);
    auto line = lbd->await_line(http_line_for("/health"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "local");
}

TEST_CASE("pipelined requests are answered in order on one connection") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(fd);
    std::string burst = get_request("/p1") + get_request("/p2") + "HEAD /p3 HTTP/1.1\r\nHost: x\r\n\r\n" +
                        get_request("/p4", "x", "Connection: close\r\n");
    REQUIRE(send_all(fd.get(), burst, kIoTimeoutMs));
    RecvResult all = recv_until_eof(fd.get(), kIoTimeoutMs);
    INFO(all.data);
    CHECK(all.end == StreamEnd::kEof);
    size_t p1 = all.data.find("GET /p1 "), p2 = all.data.find("GET /p2 "), p4 = all.data.find("GET /p4 ");
    REQUIRE(p1 != std::string::npos);
    REQUIRE(p2 != std::string::npos);
    REQUIRE(p4 != std::string::npos);
    CHECK(p1 < p2);
    CHECK(p2 < p4);
    CHECK_FALSE(has(all.data, "HEAD /p3"));  // a HEAD response has no body
    size_t responses = 0;
    for (size_t at = 0; (at = all.data.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) ++responses;
    CHECK(responses == 4);
    CHECK(has(all.data, "Connection: close\r\n"));
}

TEST_CASE("chunked responses pass through to HTTP/1.1 and are de-chunked for HTTP/1.0") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    log_format: HTTP_LOG_FORMAT_JSON\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto r11 = http_request(lbd.port(), get_request("/chunked"), kIoTimeoutMs);
    REQUIRE(r11);
    CHECK(r11->header("transfer-encoding") == "chunked");
    CHECK(has(r11->body, "server=a\n"));
    CHECK_FALSE(r11->closed);
    auto r10 = http_request(lbd.port(), "GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n", kIoTimeoutMs);
    REQUIRE(r10);
    INFO(r10->head);
    CHECK(r10->header("transfer-encoding").empty());
    CHECK(r10->closed);
    CHECK(has(r10->body, "server=a\n"));
    CHECK(has(r10->body, "body_bytes=0\n"));
    CHECK(lbd->wait_for_line(LinePattern("http {\"listener\":\"front\""), kIoTimeoutMs));
    CHECK(lbd->wait_for_line(LinePattern("\"path\":\"/chunked\",\"status\":200"), kIoTimeoutMs));
}

}  // namespace
}  // namespace lbd::test
