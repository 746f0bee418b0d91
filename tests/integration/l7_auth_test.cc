// Basic authentication on a real lbd with curl, against htpasswd files made
// by the real tools (htpasswd -B, mkpasswd -m sha-512 / -m yescrypt): right
// and wrong passwords, the realm, the Authorization header kept from the
// server, the failure limit (also against guesses sent in parallel), and no event-loop stall while a slow hash
// runs (workers: 1).
#include <doctest/doctest.h>

#include <poll.h>

#include <map>
#include <string>
#include <vector>

#include "core/loop/event.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// The tool's output (its hash line), or "" if it failed.
std::string run_tool(const std::vector<std::string>& argv) {
    ChildProcess child(argv);
    if (child.wait_exit(30000).value_or(-1) != 0) return "";
    child.await_output_end(kIoTimeoutMs);
    std::string out = child.output();
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

std::string htpasswd_bcrypt(const std::string& user, const std::string& password, int cost) {
    return run_tool({"/usr/bin/htpasswd", "-nbB", "-C", std::to_string(cost), user, password});
}

std::string mkpasswd(const std::string& user, const std::string& method, const std::string& password) {
    return user + ":" + run_tool({"/usr/bin/mkpasswd", "-m", method, password});
}

std::string auth_config(const std::string& htpasswd, const HttpBackend& web, const std::string& extra = "") {
    return http_config(http_pool("web", {&web}),
                       "    routes { name: \"admin\" match { path_prefix: \"/admin/\" } pool: \"web\"\n"
                       "      basic_auth { realm: \"Admin area\" htpasswd_file: \"" + htpasswd + "\" " + extra + " } }\n");
}

CurlRun get(uint16_t port, const std::string& path, const std::string& user) {
    std::vector<std::string> args{"-i"};
    if (!user.empty()) args.insert(args.end(), {"-u", user});
    args.push_back(url(port, path));
    return curl(args);
}

TEST_CASE("bcrypt, sha-512, sha-256 and yescrypt users get in; a wrong or missing password gets 401 with the realm") {
    TempDir dir;
    HttpBackend web("web");
    const std::string users = htpasswd_bcrypt("alice", "s3cret", 5) + "\n" + mkpasswd("bob", "sha-512", "hunter2") +
                              "\n" + mkpasswd("carol", "yescrypt", "pa:ss") + "\n" +
                              mkpasswd("dave", "sha-256", "davepw") + "\n";
    REQUIRE(has(users, "alice:$2y$05$"));
    REQUIRE(has(users, "bob:$6$"));
    REQUIRE(has(users, "carol:$y$"));
    REQUIRE(has(users, "dave:$5$"));  // libxcrypt calls it legacy; README and issue 15 accept it
    RunningLbd lbd(auth_config(dir.write_file("htpasswd", users), web));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(has(get(lbd.port(), "/admin/a", "alice:s3cret").output, "HTTP/1.1 200"));
    CHECK(has(get(lbd.port(), "/admin/b", "bob:hunter2").output, "HTTP/1.1 200"));
    CHECK(has(get(lbd.port(), "/admin/c", "carol:pa:ss").output, "HTTP/1.1 200"));
    CHECK(has(get(lbd.port(), "/admin/c2", "dave:davepw").output, "HTTP/1.1 200"));
    // The password stays at the proxy.
    for (const std::string& head : web.heads()) CHECK_FALSE(has(head, "uthorization"));
    const CurlRun wrong = get(lbd.port(), "/admin/d", "alice:S3cret");
    CHECK(has(wrong.output, "HTTP/1.1 401"));
    CHECK(has(wrong.output, "WWW-Authenticate: Basic realm=\"Admin area\""));
    CHECK(has(get(lbd.port(), "/admin/e", "nobody:s3cret").output, "HTTP/1.1 401"));
    CHECK(has(get(lbd.port(), "/admin/f", "").output, "HTTP/1.1 401"));
    CHECK(has(get(lbd.port(), "/other", "").output, "HTTP/1.1 200"));  // other routes ask nothing
    CHECK(web.requests() == 5);
    CHECK(lbd->await_line(" path=/admin/d status=401 ", kIoTimeoutMs).value_or("").find("term=auth_failed reason=auth:bad_password") != std::string::npos);
    CHECK(lbd->await_line(" path=/admin/f status=401 ", kIoTimeoutMs).value_or("").find("reason=auth:missing") != std::string::npos);
}

TEST_CASE("too many wrong passwords from one client: 429 before any hashing, the right one included") {
    TempDir dir;
    HttpBackend web("web");
    RunningLbd lbd(auth_config(dir.write_file("htpasswd", htpasswd_bcrypt("alice", "s3cret", 4) + "\n"), web,
                               "max_failures: 3"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // The right password once: checked and cached (cache_ms).
    CHECK(has(get(lbd.port(), "/admin/x", "alice:s3cret").output, "HTTP/1.1 200"));
    for (int i = 0; i < 3; ++i) CHECK(has(get(lbd.port(), "/admin/x", "alice:nope").output, "HTTP/1.1 401"));
    // Refused before the cache is looked at: a 200 here would tell a guesser it had the password.
    const CurlRun blocked = get(lbd.port(), "/admin/x", "alice:s3cret");
    CHECK(has(blocked.output, "HTTP/1.1 429"));
    CHECK(has(blocked.output, "Retry-After: "));
    CHECK(lbd->await_line("reason=auth:too_many_failures", kIoTimeoutMs));
    CHECK(web.requests() == 1);
}

// Guesses sent in parallel cannot outrun the failure limit: at most four
// different credentials of one client are checked at once, a fifth is
// answered 429 without a hash; a browser's parallel requests with one
// credential are one guess and all get through.
TEST_CASE("parallel guesses: four different credentials of one client are checked at once, the rest get 429") {
    TempDir dir;
    HttpBackend web("web");
    std::string config =
        auth_config(dir.write_file("htpasswd", htpasswd_bcrypt("alice", "s3cret", 12) + "\n"), web, "max_failures: 100");
    config.replace(config.find("workers: 2"), 10, "workers: 1");
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // base64 of "alice:guess0" .. "alice:guess7": eight different wrong passwords at once.
    const char* const kGuesses[] = {"YWxpY2U6Z3Vlc3Mw", "YWxpY2U6Z3Vlc3Mx", "YWxpY2U6Z3Vlc3My", "YWxpY2U6Z3Vlc3Mz",
                                    "YWxpY2U6Z3Vlc3M0", "YWxpY2U6Z3Vlc3M1", "YWxpY2U6Z3Vlc3M2", "YWxpY2U6Z3Vlc3M3"};
    auto send_all_at_once = [&](const std::vector<std::string>& credentials) {
        std::vector<UniqueFd> sockets;
        for (const std::string& c : credentials) {
            sockets.push_back(connect_tcp(lbd.port(), kIoTimeoutMs));
            REQUIRE(sockets.back());
            REQUIRE(send_all(sockets.back().get(),
                             get_request("/admin/x", "example.com", "Authorization: Basic " + c + "\r\n"), kIoTimeoutMs));
        }
        std::map<int, int> statuses;
        for (const UniqueFd& s : sockets) {
            auto reply = read_http_reply(s.get(), 30000);
            REQUIRE(reply);
            ++statuses[reply->status];
        }
        return statuses;
    };
    std::map<int, int> guesses = send_all_at_once(std::vector<std::string>(std::begin(kGuesses), std::end(kGuesses)));
    CHECK(guesses[401] == 4);
    CHECK(guesses[429] == 4);
    CHECK(lbd->await_line("reason=auth:too_many_in_flight", kIoTimeoutMs));
    // Six parallel requests with the right credential: one guess, all in.
    std::map<int, int> right = send_all_at_once(std::vector<std::string>(6, "YWxpY2U6czNjcmV0"));
    CHECK(right[200] == 6);
}

// The hash runs on the password pool: while a bcrypt cost-12 check (a few
// hundred ms) is under way, another request on the same (only) worker is
// answered at once. With the hash on the loop, the other request would
// wait for it.
TEST_CASE("no event-loop stall: a request on the same worker is answered while a bcrypt cost-12 check runs") {
    TempDir dir;
    HttpBackend web("web");
    const std::string users = htpasswd_bcrypt("alice", "s3cret", 12) + "\n";
    REQUIRE(has(users, "alice:$2y$12$"));
    std::string config = auth_config(dir.write_file("htpasswd", users), web);
    config.replace(config.find("workers: 2"), 10, "workers: 1");
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    REQUIRE(has(get(lbd.port(), "/warm", "").output, "HTTP/1.1 200"));  // a server connection to reuse

    UniqueFd slow = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(slow);
    const uint64_t start = monotonic_ms();
    REQUIRE(send_all(slow.get(), get_request("/admin/slow", "example.com", "Authorization: Basic YWxpY2U6czNjcmV0\r\n"),
                     kIoTimeoutMs));
    // Five quick requests, one after the other, while the hash runs.
    uint64_t worst_ms = 0;
    for (int i = 0; i < 5; ++i) {
        const uint64_t sent = monotonic_ms();
        auto reply = http_request(lbd.port(), get_request("/quick"), kIoTimeoutMs);
        REQUIRE(reply);
        CHECK(reply->status == 200);
        worst_ms = std::max(worst_ms, monotonic_ms() - sent);
    }
    pollfd pending{slow.get(), POLLIN, 0};
    const bool hash_still_running = poll(&pending, 1, 0) == 0;
    auto slow_reply = read_http_reply(slow.get(), 30000);
    const uint64_t hash_ms = monotonic_ms() - start;
    REQUIRE(slow_reply);
    CHECK(slow_reply->status == 200);
    MESSAGE("bcrypt cost 12 answered in " << hash_ms << " ms; the slowest other request took " << worst_ms << " ms");
    CHECK(hash_still_running);
    CHECK(worst_ms * 4 < hash_ms);
}

}  // namespace
}  // namespace lbd::test
