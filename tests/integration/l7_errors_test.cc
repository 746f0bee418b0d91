// L7 scenarios where something goes wrong: request smuggling attempts, no route, a malformed
// response, no server, a hanging server, a slowloris client, a server dying mid-request. Each
// checks the status the client gets and, where it matters, that nothing reached a backend.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

TEST_CASE("smuggling corpus: ambiguous framing gets 400 (or 501) and never reaches a server") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    struct Case {
        const char* name;
        std::string request;
        int status;
    };
    const Case cases[] = {
        {"CL.TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
        {"TE.CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400},
        {"TE.TE chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"TE.TE obfuscated", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501},
        {"TE space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
        {"TE obs-fold", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
        {"two Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        {"Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
        {"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
        {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"chunk size garbage", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        REQUIRE(send_all(fd.get(), c.request, kIoTimeoutMs));
        auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
        REQUIRE(reply);
        CHECK(reply->status == c.status);
        CHECK(reply->closed);
        CHECK_FALSE(has(reply->body, "127.0.0.1"));  // an error never shows a server
    }
    // "chunk size garbage" is found in the body, after the head went to the server: that request
    // reached it, and was cut off there. Every other one was refused on its head.
    CHECK(a.requests() <= 1);
    CHECK(lbd->await_count(LinePattern("term=bad_request"), std::size(cases) - 1, kIoTimeoutMs));
}

TEST_CASE("no route and no default pool: 404, with the configured page") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}),
                               "    routes { match { path_prefix: \"/app\" } pool: \"web\" }\n"
                               "    error_pages { status: 404 body: \"nothing here\\n\" }\n",
                               ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto reply = http_request(lbd.port(), get_request("/other"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 404);
    CHECK(reply->body == "nothing here\n");
    CHECK_FALSE(reply->closed);  // a clean 404 keeps the connection
    CHECK(a.requests() == 0);
    auto app = http_request(lbd.port(), get_request("/app"), kIoTimeoutMs);
    REQUIRE(app);
    CHECK(app->status == 200);
}

TEST_CASE("a malformed response becomes 502 and the server connection is dropped") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), get_request("/malformed"), kIoTimeoutMs));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 502);
    CHECK(reply->body == "502 Bad Gateway\n");
    // The client connection goes on.
    REQUIRE(send_all(fd.get(), get_request("/fine"), kIoTimeoutMs));
    auto next = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(a.connections() == 2);
    auto line = lbd->await_line(http_line_for("/malformed"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "bad_response");
}

TEST_CASE("all servers down: 503 after the retries; a dead server is skipped for a live one") {
    uint16_t dead1 = pick_free_port(), dead2 = pick_free_port();
    HttpBackend live("live");
    const std::string dead_pool = "pools {\n  name: \"dead\"\n  connect_timeout_ms: 500\n" + server_entry("d1", dead1) +
                                  server_entry("d2", dead2) + "}\n";
    const std::string mixed_pool = "pools {\n  name: \"web\"\n" + server_entry("d1", dead1) +
                                   server_entry("live", live.port()) + "}\n";
    RunningLbd lbd(http_config(dead_pool + mixed_pool,
                               "    routes { match { path_prefix: \"/dead\" } pool: \"dead\" }\n"
                               "    error_pages { status: 503 body: \"try later\\n\" }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto reply = http_request(lbd.port(), get_request("/dead"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 503);
    CHECK(reply->body == "try later\n");
    auto line = lbd->await_line(http_line_for("/dead"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "connect_failed");
    for (int i = 0; i < 4; ++i) {
        auto ok = http_request(lbd.port(), get_request("/x"), kIoTimeoutMs);
        REQUIRE(ok);
        CHECK(ok->status == 200);
    }
}

TEST_CASE("a single-server pool tries its server again after a failed connect, 1 + retries times, counted") {
    // As HAProxy's `retries`: with no other server left, the failed one is tried again. A burst of
    // connects that overflows a server's listen queue otherwise cost one 503 per dropped SYN.
    const uint16_t dead = pick_free_port();
    RunningLbd lbd("global { workers: 1 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
                   "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"web\" http { } }\n"
                   "pools { name: \"web\" retries: 2 " + server_entry("only", dead) + "}\n");
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    auto reply = http_request(lbd.port(), get_request("/x"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 503);
    CHECK(metric(admin, "lbd_server_connect_failures_total{pool=\"web\",server=\"only\"}") == 3);
    CHECK(metric(admin, "lbd_server_connect_retries_total{pool=\"web\",server=\"only\"}") == 2);
}

TEST_CASE("a server that never answers: 504 after server_response_ms") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    timeouts { server_response_ms: 300 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    Deadline started(10000);
    auto reply = http_request(lbd.port(), get_request("/hang"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 504);
    CHECK(10000 - started.remaining_ms() >= 300);
    auto line = lbd->await_line(http_line_for("/hang"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "server_timeout");
}

TEST_CASE("slowloris: a head not complete within client_header_ms gets 408 and is closed") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    timeouts { client_header_ms: 300 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1", kIoTimeoutMs));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 408);
    CHECK(reply->closed);
    CHECK(a.requests() == 0);
    CHECK(lbd->wait_for_line("term=header_timeout", kIoTimeoutMs));
    // A connection that sends nothing is closed quietly.
    UniqueFd silent = connect_tcp(lbd.port(), kIoTimeoutMs);
    RecvResult nothing = recv_until_eof(silent.get(), kIoTimeoutMs);
    CHECK(nothing.end == StreamEnd::kEof);
    CHECK(nothing.data.empty());
}

TEST_CASE("a server dying mid-request fails only that request") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd other = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(other.get(), get_request("/before"), kIoTimeoutMs));
    REQUIRE(read_http_reply(other.get(), kIoTimeoutMs));

    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), "POST /die HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", kIoTimeoutMs));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 502);  // a POST is never sent twice
    auto line = lbd->await_line(http_line_for("/die"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "server_abort");

    // The other client's connection, and this one, go on.
    REQUIRE(send_all(other.get(), get_request("/after"), kIoTimeoutMs));
    auto after = read_http_reply(other.get(), kIoTimeoutMs);
    REQUIRE(after);
    CHECK(after->status == 200);
    REQUIRE(send_all(fd.get(), get_request("/again"), kIoTimeoutMs));
    auto again = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(again);
    CHECK(again->status == 200);
}

TEST_CASE("a GET on a reused connection that the server closes is sent again on a new one, once") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(fd.get(), get_request("/before"), kIoTimeoutMs));
    REQUIRE(read_http_reply(fd.get(), kIoTimeoutMs));  // leaves an idle server connection to reuse
    const size_t connections = a.connections();
    REQUIRE(send_all(fd.get(), get_request("/die"), kIoTimeoutMs));
    auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 502);  // the new connection closed too: no third attempt
    auto line = lbd->await_line(http_line_for("/die"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "term") == "server_abort");
    const std::vector<std::string> heads = a.heads();
    CHECK(std::count_if(heads.begin(), heads.end(),
                        [](const std::string& head) { return head.find("GET /die ") != std::string::npos; }) == 2);
    CHECK(a.connections() == connections + 1);
}

TEST_CASE("a body larger than max_body_bytes gets 413 before anything is forwarded") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), "    limits { max_body_bytes: 1000 }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    auto reply = http_request(lbd.port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 413);
    CHECK(reply->closed);
    CHECK(a.requests() == 0);
}

}  // namespace
}  // namespace lbd::test
