// Reloading an HTTP listener on a running lbd: clients looping through valid
// and invalid reloads see no error; a connection keeps the configuration it
// started on while new connections get the new one; an invalid config is
// refused with file:line and the running one keeps serving.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// Every response carries X-Config: `version`; /version is answered by lbd.
std::string versioned(const std::string& pools, int version, const std::string& more = "") {
    const std::string v = std::to_string(version);
    return http_config(pools, "    response_headers { set { name: \"X-Config\" value: \"v" + v + "\" } }\n" +
                                  "    routes { match { path_exact: \"/version\" } respond { status: 200 body: \"v" +
                                  v + "\\n\" } }\n" + more);
}

TEST_CASE("keep-alive and new-connection clients looping through HTTP reloads see no error") {
    HttpBackend a("a"), b("b");
    const std::string pools = http_pool("web", {&a, &b});
    RunningLbd lbd(versioned(pools, 0));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    std::atomic<bool> done{false};
    std::atomic<int> ok{0}, failed{0};
    auto loop = [&](bool keep_alive) {
        UniqueFd fd;
        while (!done.load()) {
            if (!fd || !keep_alive) fd = connect_tcp(lbd.port(), kIoTimeoutMs);
            std::optional<HttpReply> reply;
            if (fd && send_all(fd.get(), get_request("/x"), kIoTimeoutMs)) reply = read_http_reply(fd.get(), kIoTimeoutMs);
            (reply && reply->status == 200 ? ok : failed).fetch_add(1);
            if (reply && reply->closed) fd.reset();
        }
    };
    std::thread kept(loop, true), fresh(loop, false);
    for (int i = 1; i <= 5; ++i) {
        CHECK(reload_lbd(lbd, versioned(pools, i), "reload applied", static_cast<size_t>(i)));
        auto version = http_request(lbd.port(), get_request("/version"), kIoTimeoutMs);
        REQUIRE(version);
        CHECK(version->body == "v" + std::to_string(i) + "\n");
        CHECK(reload_lbd(lbd, versioned(pools, 99, "    routes { pool: \"missing\" }\n"), "reload rejected",
                         static_cast<size_t>(i)));
    }
    const int before = ok.load();
    for (int spins = 0; ok.load() < before + 50 && spins < 1000000; ++spins) std::this_thread::yield();
    done = true;
    kept.join();
    fresh.join();
    CHECK(failed.load() == 0);
    CHECK(ok.load() > 50);
    CHECK(lbd->count("listener front kept") == 5);
    // The rejected config never served: lbd still answers v5.
    auto version = http_request(lbd.port(), get_request("/version"), kIoTimeoutMs);
    REQUIRE(version);
    CHECK(version->body == "v5\n");
}

TEST_CASE("a connection keeps the configuration it started on; new connections get the reloaded one") {
    HttpBackend a("a");
    const std::string pools = http_pool("web", {&a});
    RunningLbd lbd(versioned(pools, 1));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    UniqueFd held = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(send_all(held.get(), get_request("/x"), kIoTimeoutMs));
    auto before = read_http_reply(held.get(), kIoTimeoutMs);
    REQUIRE(before);
    CHECK(has(before->head, "X-Config: v1\r\n"));

    REQUIRE(reload_lbd(lbd, versioned(pools, 2), "reload applied", 1));
    auto fresh = http_request(lbd.port(), get_request("/x"), kIoTimeoutMs);
    REQUIRE(fresh);
    CHECK(has(fresh->head, "X-Config: v2\r\n"));
    REQUIRE(send_all(held.get(), get_request("/x"), kIoTimeoutMs));
    auto after = read_http_reply(held.get(), kIoTimeoutMs);
    REQUIRE(after);
    CHECK(after->status == 200);
    CHECK(has(after->head, "X-Config: v1\r\n"));
}

TEST_CASE("an invalid HTTP config is refused with file:line and the running one keeps serving") {
    HttpBackend a("a");
    const std::string pools = http_pool("web", {&a});
    RunningLbd lbd(versioned(pools, 1));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string bad = versioned(pools, 2, "    routes { match { path_prefix: \"/p\" } pool: \"nope\" }\n");
    REQUIRE(reload_lbd(lbd, bad, "reload rejected", 1));
    // The error names the file and the line of `pool: "nope"`.
    const size_t line = 1 + static_cast<size_t>(std::count(bad.begin(), bad.begin() + static_cast<long>(bad.find("pool: \"nope\"")), '\n'));
    CHECK(lbd->count(lbd->config_path() + ":" + std::to_string(line) + ":") >= 1);
    auto reply = http_request(lbd.port(), get_request("/version"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->body == "v1\n");
}

}  // namespace
}  // namespace lbd::test
