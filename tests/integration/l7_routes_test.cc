// Routing and rewriting features on a real lbd with curl: regex routes with groups in rewrites and
// redirects, a split by client address (200 source addresses of 127/8, and 100 clients behind a
// trusted proxy), per-route timeouts and access log, header values with variables and the request
// id, and Set-Cookie / Location rewriting of a server's answers.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "core/loop/event.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// `lbd -t` refuses `config` with "FILE:8:COL: message..." where COL is that of `needle` on line 8
// (the first line of the http block's body).
void refused_at(const std::string& config, const std::string& needle, const std::string& message) {
    const size_t at = config.find(needle);
    const size_t line_start = config.rfind('\n', at);
    const std::string column = std::to_string(at - (line_start == std::string::npos ? 0 : line_start + 1) + 1);
    LbdProcess::CheckResult check = LbdProcess::run_check(config);
    INFO(check.output);
    CHECK(check.exit_code == 1);
    CHECK(has(check.output, check.config_path + ":8:" + column + ": " + message));
}

// The body's "server=NAME" line of the test backend: which backend answered.
std::string server_of(const std::string& output) {
    const size_t at = output.find("server=");
    if (at == std::string::npos) return "";
    return output.substr(at + 7, output.find('\n', at) - at - 7);
}

TEST_CASE("regex routes: ~* and ~ patterns, groups in rewrite_path and in redirects, a bad regex refused") {
    HttpBackend web("web");
    HttpBackend assets("assets");
    RunningLbd lbd(http_config(
        http_pool("web", {&web}) + http_pool("assets", {&assets}),
        "    routes { name: \"static\" match { path_regex: \"\\\\.(jpg|css|js)$\" path_regex_ignore_case: true }"
        " pool: \"assets\" }\n"
        "    routes { name: \"v1\" match { path_regex: \"^/api/v1/(.*)$\" } pool: \"web\""
        " rewrite_path: \"/internal/$1\" }\n"
        "    routes { name: \"old\" match { path_regex: \"^/old/(.*)$\" }"
        " redirect { status: 301 location: \"https://$host/new/$1\" } }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(server_of(curl({url(lbd.port(), "/img/Cat.JPG")}).output) == "assets");
    CHECK(server_of(curl({url(lbd.port(), "/img/cat.png")}).output) == "web");  // no route: the listener's pool
    CurlRun v1 = curl({url(lbd.port(), "/api/v1/users/7?x=1")});
    CHECK(server_of(v1.output) == "web");
    CHECK(has(v1.output, "GET /internal/users/7?x=1 HTTP/1.1"));
    CHECK(has(curl({url(lbd.port(), "/API/v1/users")}).output, "GET /API/v1/users HTTP/1.1"));  // ~ is case-sensitive
    CurlRun old = curl({"-i", "-H", "Host: shop.example.com", url(lbd.port(), "/old/a/b?c=d")});
    CHECK(has(old.output, "HTTP/1.1 301"));
    CHECK(has(old.output, "Location: https://shop.example.com/new/a/b\r\n"));
    CHECK(lbd->await_line(LinePattern(" path=/internal/users/7 "), kIoTimeoutMs));

    // A bad pattern is a config error at its line and column, with PCRE2's reason.
    refused_at(http_config(http_pool("web", {&web}), "    routes { match { path_regex: \"^/(a\" } pool: \"web\" }\n"),
               "path_regex", "path_regex '^/(a': missing closing parenthesis at offset 4");
}

// Which side each client of a split lands on: every client sends two
// requests on two connections (Connection: close) with its own curl
// arguments; `inconsistent` counts clients whose two requests differed.
struct SplitSides {
    std::map<std::string, int> sides;
    int inconsistent = 0;
};

SplitSides split_sides(uint16_t port, const std::vector<std::vector<std::string>>& clients) {
    SplitSides out;
    for (const std::vector<std::string>& client : clients) {
        std::vector<std::string> args = client;
        args.insert(args.end(), {"-H", "Connection: close", url(port, "/a"), url(port, "/b")});
        CurlRun run = curl(args);
        REQUIRE_MESSAGE(run.exit_code == 0, run.output);
        const size_t first_at = run.output.find("server=");
        const size_t second_at = first_at == std::string::npos ? first_at : run.output.find("server=", first_at + 1);
        const std::string first = server_of(run.output);
        const std::string second = second_at == std::string::npos ? "" : server_of(run.output.substr(second_at));
        if (first != second) ++out.inconsistent;
        ++out.sides[first];
    }
    return out;
}

std::string two_pool_split(int canary_weight, const std::string& extra = "") {
    return extra + "    routes { split { pools { pool: \"stable\" weight: " + std::to_string(100 - canary_weight) +
           " } pools { pool: \"canary\" weight: " + std::to_string(canary_weight) +
           " } by: SPLIT_BY_CLIENT_ADDRESS } }\n";
}

TEST_CASE("split by client address: 200 clients divide by the weights, and each stays on its side") {
    HttpBackend stable("stable");
    HttpBackend canary("canary");
    RunningLbd lbd(http_config(http_pool("stable", {&stable}) + http_pool("canary", {&canary}), two_pool_split(25), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    std::vector<std::vector<std::string>> clients;  // one source address each
    for (int i = 2; i < 202; ++i) clients.push_back({"--interface", "127.0.0." + std::to_string(i)});
    SplitSides result = split_sides(lbd.port(), clients);
    CHECK(result.inconsistent == 0);
    CHECK(result.sides["stable"] + result.sides["canary"] == 200);
    // 25% of 200 = 50; the hash of 200 neighbouring addresses lands within 50 +- 15.
    CHECK(result.sides["canary"] >= 35);
    CHECK(result.sides["canary"] <= 65);
    CHECK(canary.requests() == 2 * static_cast<size_t>(result.sides["canary"]));
}

TEST_CASE("split by client address behind a trusted proxy hashes the X-Forwarded-For client") {
    HttpBackend stable("stable");
    HttpBackend canary("canary");
    RunningLbd lbd(http_config(http_pool("stable", {&stable}) + http_pool("canary", {&canary}),
                               two_pool_split(50, "    forwarded { trusted_proxies: \"127.0.0.0/8\" }\n"), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // 100 clients behind one proxy address: hashing the peer would put them all on one side.
    std::vector<std::vector<std::string>> clients;
    for (int i = 1; i <= 100; ++i) clients.push_back({"-H", "X-Forwarded-For: 198.51.100." + std::to_string(i)});
    SplitSides result = split_sides(lbd.port(), clients);
    CHECK(result.inconsistent == 0);
    CHECK(result.sides["stable"] >= 25);
    CHECK(result.sides["canary"] >= 25);
}

TEST_CASE("per-route timeouts override the listener's; access_log: false silences a route") {
    HttpBackend web("web");
    RunningLbd lbd(http_config(
        http_pool("web", {&web}),
        "    timeouts { server_response_ms: 20000 }\n"
        "    routes { name: \"quick\" match { path_exact: \"/hang\" } pool: \"web\""
        " timeouts { server_response_ms: 300 } }\n"
        "    routes { name: \"health\" match { path_exact: \"/health\" } respond { body: \"ok\" }"
        " access_log: false }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint64_t start = monotonic_ms();
    CurlRun hang = curl({"-i", url(lbd.port(), "/hang")}, 5000);
    CHECK(has(hang.output, "HTTP/1.1 504"));
    CHECK(monotonic_ms() - start < 3000);  // the listener's 20 s would have run past curl's 5 s
    CHECK(lbd->await_line(LinePattern(" path=/hang status=504 "), kIoTimeoutMs));

    // One connection, in order: the line of /after is written after /health's would have been.
    CurlRun both = curl({url(lbd.port(), "/health"), url(lbd.port(), "/after")});
    CHECK(has(both.output, "ok"));
    CHECK(lbd->await_line(http_line_for("/after"), kIoTimeoutMs));
    CHECK(lbd->count(http_line_for("/health")) == 0);
}

TEST_CASE("header values with variables, and the request id sent, logged and kept from a trusted proxy") {
    HttpBackend web("web");
    RunningLbd lbd(http_config(
        http_pool("web", {&web}),
        "    request_id { keep_trusted: true }\n"
        "    forwarded { trusted_proxies: \"127.0.0.2/32\" }\n"
        "    request_headers { set { name: \"X-Client\" value: \"$remote_addr $scheme $host $request_uri\" } }\n"
        "    response_headers { set { name: \"X-Request-Id\" value: \"$request_id\" } }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CurlRun run = curl({"-i", "-H", "Host: Shop.Example.com:81", "-H", "X-Request-Id: forged",
                        url(lbd.port(), "/a?b=1")});
    CHECK(has(run.output, "X-Client: 127.0.0.1 http shop.example.com /a?b=1\r\n"));
    // The first X-Request-Id line: 32 lower-case hex digits. (No std::regex: GCC 12 warns
    // maybe-uninitialized inside it under ASan, which -Werror turns into a failed build.)
    const std::string out = run.output;
    const std::string field = "X-Request-Id: ";
    const size_t at = out.find(field);
    REQUIRE(at != std::string::npos);
    const std::string id = out.substr(at + field.size(), 32);
    REQUIRE(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(out.compare(at + field.size() + 32, 2, "\r\n") == 0);
    // Sent upstream (in the echoed head), answered to the client, logged: one id, not the client's.
    CHECK(has(out.substr(out.find("server=web")), "X-Request-Id: " + id + "\r\n"));
    CHECK(!has(out, "forged"));
    CHECK(lbd->await_line(LinePattern(" request_id=" + id), kIoTimeoutMs));

    // From the trusted proxy its id goes through.
    CurlRun trusted = curl({"--interface", "127.0.0.2", "-H", "X-Request-Id: edge-42", url(lbd.port(), "/t")});
    CHECK(has(trusted.output, "X-Request-Id: edge-42\r\n"));
    CHECK(lbd->await_line(LinePattern::regex(" path=/t .* request_id=edge-42"), kIoTimeoutMs));

    // A request refused before the router (here by an access rule) is logged with its id too,
    // though no header template asks for it.
    RunningLbd guarded(http_config(
        http_pool("web", {&web}),
        "    request_id {}\n"
        "    routes { match { path_prefix: \"/denied\" } access { rules { deny: \"all\" } } pool: \"web\" }\n"));
    REQUIRE(guarded.ok());
    CurlRun denied = curl({"-o", "/dev/null", "-w", "%{http_code}", url(guarded.port(), "/denied")});
    CHECK(has(denied.output, "403"));
    CHECK(guarded->await_line(LinePattern::regex(" path=/denied status=403 .* request_id=[0-9a-f]{32}"),
                              kIoTimeoutMs));

    // An unknown variable is a config error.
    refused_at(http_config(http_pool("web", {&web}),
                           "    request_headers { add { name: \"X-U\" value: \"$remote_user\" } }\n"),
               "add {", "header 'X-U': unknown variable $remote_user");
}

TEST_CASE("Set-Cookie domain and path, Location and Refresh of a server behind a prefix are rewritten") {
    HttpBackend app("app");
    RunningLbd lbd(http_config(
        http_pool("web", {&app}),
        "    routes { match { path_prefix: \"/app/\" } pool: \"web\" replace_path_prefix: \"/\"\n"
        "      cookie_domain { from: \"app.internal\" to: \"www.example.com\" }\n"
        "      cookie_path { from: \"/\" to: \"/app/\" }\n"
        "      redirect_rewrite { from: \"http://app.internal/\" to: \"https://www.example.com/app/\" }\n"
        "      redirect_rewrite_default: true }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string self = "http://127.0.0.1:" + std::to_string(app.port());
    app.answer("/login", 302, "", "Location: " + self + "/home?x=1\r\nRefresh: 0; url=http://app.internal/r\r\n"
                                  "Set-Cookie: sid=1; Domain=.app.internal; Path=/; HttpOnly\r\n");
    app.answer("/rel", 302, "", "Location: /next\r\n");
    CurlRun login = curl({"-i", "-H", "Host: www.example.com", url(lbd.port(), "/app/login")});
    CHECK(has(login.output, "HTTP/1.1 302"));
    CHECK(has(login.output, "Location: http://www.example.com/app/home?x=1\r\n"));
    CHECK(has(login.output, "Refresh: 0; url=https://www.example.com/app/r\r\n"));
    CHECK(has(login.output, "Set-Cookie: sid=1; Domain=www.example.com; Path=/app/; HttpOnly\r\n"));
    CurlRun rel = curl({"-i", url(lbd.port(), "/app/rel")});
    CHECK(has(rel.output, "Location: /app/next\r\n"));
}

}  // namespace
}  // namespace lbd::test
