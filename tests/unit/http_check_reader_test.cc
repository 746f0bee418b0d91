// Unit tests for what the HTTP health probe makes of an answer (core/health/http_check_reader.h): each
// answer is fed whole and byte by byte, and both must give the same verdict. The malformed ones
// were accepted by the probe's own lax reader before it used core/http1.
#include <doctest/doctest.h>

#include <string>

#include "core/health/http_check_reader.h"

namespace {

using lbd::HttpCheckConfig;
using lbd::HttpCheckReader;
using lbd::HttpCheckVerdict;

HttpCheckConfig check(const std::string& body_contains = "", const std::string& method = "GET") {
    HttpCheckConfig config;
    config.method = method;
    config.expect_status = *lbd::StatusRanges::parse("200-399", nullptr);
    config.body_contains = body_contains;
    return config;
}

// "healthy: HTTP 200" / "unhealthy: bad response: bare LF" / "pending"; the server closes after
// `answer` when `close` is set.
std::string verdict_text(const HttpCheckVerdict& verdict) {
    switch (verdict.state) {
        case HttpCheckVerdict::State::kPending: return "pending";
        case HttpCheckVerdict::State::kHealthy: return "healthy: " + verdict.why;
        case HttpCheckVerdict::State::kUnhealthy: return "unhealthy: " + verdict.why;
    }
    return "?";
}

std::string read_whole(const HttpCheckConfig& config, const std::string& answer, bool close) {
    HttpCheckReader reader(config);
    reader.feed(answer, false);
    return verdict_text(reader.feed({}, close));
}

std::string read_bytewise(const HttpCheckConfig& config, const std::string& answer, bool close) {
    HttpCheckReader reader(config);
    for (char c : answer) {
        if (reader.feed(std::string_view(&c, 1), false).decided()) break;
    }
    return verdict_text(reader.feed({}, close));
}

// The verdict, checked to be the same whole and byte by byte.
std::string read(const HttpCheckConfig& config, const std::string& answer, bool close = true) {
    const std::string whole = read_whole(config, answer, close);
    CHECK(read_bytewise(config, answer, close) == whole);
    return whole;
}

}  // namespace

TEST_CASE("http check: status and body of well-formed answers") {
    CHECK(read(check(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") == "healthy: HTTP 200");
    CHECK(read(check(), "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n") == "unhealthy: HTTP 500");
    // Decided on the head: the server need not close, nor send the body.
    CHECK(read(check(), "HTTP/1.1 204 No Content\r\n\r\n", false) == "healthy: HTTP 204");
    CHECK(read(check(), "HTTP/1.1 200\r\n\r\n") == "healthy: HTTP 200");  // no reason phrase
    // Interim answers are skipped (RFC 9110 §15.2): the final status decides.
    CHECK(read(check(), "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", false) ==
          "healthy: HTTP 200");
    CHECK(read(check("ready"), "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nall ready\r\n", false) ==
          "healthy: HTTP 200, body matches");
    CHECK(read(check("ready"), "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nstarting", false) ==
          "unhealthy: body lacks 'ready'");
    // A word split across two chunks is found; the chunk framing is not.
    CHECK(read(check("ready"), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nrea\r\n2\r\ndy\r\n0\r\n\r\n",
               false) == "healthy: HTTP 200, body matches");
    CHECK(read(check("3\r\nrea"), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nrea\r\n0\r\n\r\n",
               false) == "unhealthy: body lacks '3\r\nrea'");
    // Read until close (HTTP/1.0 without Content-Length).
    CHECK(read(check("good"), "HTTP/1.0 200 OK\r\n\r\nall good") == "healthy: HTTP 200, body matches");
    CHECK(read(check("good"), "HTTP/1.0 200 OK\r\n\r\nall bad") == "unhealthy: body lacks 'good'");
    CHECK(read(check("good"), "HTTP/1.0 200 OK\r\n\r\nall bad", false) == "pending");
    // A response to HEAD has no body, whatever Content-Length says (RFC 9112 §6.3).
    CHECK(read(check("x", "HEAD"), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", false) ==
          "unhealthy: body lacks 'x'");
}

TEST_CASE("http check: malformed answers fail with the grammar's reason") {
    const HttpCheckConfig status_only = check();
    CHECK(read(status_only, "") == "unhealthy: closed without a response");
    CHECK(read(status_only, "HTTP/1.1 200 OK\r\n") == "unhealthy: bad response: closed inside the head");
    CHECK(read(status_only, "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello").starts_with(
        "unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
              .starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
              .starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n").starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, std::string("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 27))
              .starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 200 OK\nContent-Length: 0\n\n").starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 200 OK\r\n Folded: yes\r\n\r\n").starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/2.0 200 OK\r\n\r\n").starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 20 OK\r\n\r\n").starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "HTTP/1.1 099 Low\r\n\r\n").starts_with("unhealthy: bad response: "));
    CHECK(read(status_only, "ICY 200 OK\r\n\r\n").starts_with("unhealthy: bad response: "));
    // The body is read, and checked, only when body_contains asks for it.
    const HttpCheckConfig body = check("ready");
    CHECK(read(body, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nready\r\n0\r\n\r\n")
              .starts_with("unhealthy: bad response: "));
    CHECK(read(body, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nstill\r\n") ==
          "unhealthy: bad response: connection closed inside the body");
    CHECK(read(body, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nnot yet") ==
          "unhealthy: bad response: connection closed inside the body");
}

TEST_CASE("http check: at most kMaxResponse bytes are read") {
    const std::string filler(HttpCheckReader::kMaxResponse, 'a');
    const HttpCheckConfig body = check("ready");
    HttpCheckReader reader(body);
    reader.feed("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", false);
    CHECK(reader.feed(filler, false).why == "body lacks 'ready'");
    CHECK(reader.room() == 0);
    // A head that never ends within the cap.
    const HttpCheckConfig status_only = check();
    HttpCheckReader endless(status_only);
    endless.feed("HTTP/1.1 200 OK\r\n", false);
    CHECK(verdict_text(endless.feed("X: " + filler, false)).starts_with("unhealthy: bad response: "));
}
