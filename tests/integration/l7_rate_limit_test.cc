// Rate limits on a real lbd: requests over a zone's allowance get 429 with
// Retry-After and never reach a server; keys are separate; a route's zone
// covers that route only; a reload keeps an unchanged zone's counters.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "core/loop/event.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

// Sends `count` requests for `path` on one keep-alive connection; returns
// their statuses in order (0 for a request that got no reply).
std::vector<int> statuses(uint16_t port, const std::string& path, int count, const std::string& extra = "") {
    std::vector<int> out;
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    for (int i = 0; i < count; ++i) {
        if (!fd || !send_all(fd.get(), get_request(path, "example.com", extra), kIoTimeoutMs)) {
            out.push_back(0);
            continue;
        }
        auto reply = read_http_reply(fd.get(), kIoTimeoutMs);
        out.push_back(reply ? reply->status : 0);
        if (reply && reply->status == 429) CHECK(has(reply->head, "Retry-After: "));
    }
    return out;
}

int count_of(const std::vector<int>& v, int status) { return static_cast<int>(std::count(v.begin(), v.end(), status)); }

// 2 requests/s with a burst of 3: 4 pass at once.
const std::string kPerIp = "    rate_limit_zones { name: \"per-ip\" requests: 2 burst: 3 }\n";

TEST_CASE("over the rate: 429 with Retry-After, the server never sees it, and the allowance comes back") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(http_pool("web", {&a}), kPerIp + "    rate_limits: \"per-ip\"\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::vector<int> first = statuses(lbd.port(), "/x", 10);
    CHECK(count_of(first, 200) == 4);
    CHECK(count_of(first, 429) == 6);
    CHECK(first[0] == 200);
    CHECK(first[9] == 429);  // the connection stays usable after a 429
    // 2 a second: the next request conforms within 500 ms, i.e. 1 s rounded up.
    auto refused = http_request(lbd.port(), get_request("/x"), kIoTimeoutMs);
    REQUIRE(refused);
    CHECK(refused->status == 429);
    CHECK(has(refused->head, "Retry-After: 1\r\n"));
    CHECK(a.requests() == 4);
    CHECK(lbd->await_count(LinePattern("term=rate_limited"), 7, kIoTimeoutMs));

    // One request every 500 ms comes back: poll until one passes, and it
    // must not pass much sooner than one interval after the burst.
    const uint64_t start = monotonic_ms();
    int status = 429;
    while (status == 429 && monotonic_ms() - start < 3000) status = statuses(lbd.port(), "/x", 1)[0];
    CHECK(status == 200);
    CHECK(monotonic_ms() - start >= 300);
    CHECK(a.requests() == 5);
}

TEST_CASE("each client key has its own allowance; a route's zone covers only that route") {
    HttpBackend a("a");
    RunningLbd lbd(http_config(
        http_pool("web", {&a}),
        kPerIp +
            "    rate_limit_zones { name: \"per-key\" key: RATE_LIMIT_KEY_HEADER header: \"X-Api-Key\" requests: 1 "
            "period_ms: 60000 status: 503 }\n"
            "    routes { match { path_prefix: \"/api/\" } pool: \"web\" rate_limits: \"per-key\" }\n"
            "    forwarded { trusted_proxies: \"127.0.0.1/32\" }\n"
            "    routes { match { path_prefix: \"/ip/\" } pool: \"web\" rate_limits: \"per-ip\" }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // Header key: one request a minute per API key, answered 503 beyond.
    CHECK(statuses(lbd.port(), "/api/a", 3, "X-Api-Key: k1\r\n") == std::vector<int>{200, 503, 503});
    CHECK(statuses(lbd.port(), "/api/a", 2, "X-Api-Key: k2\r\n") == std::vector<int>{200, 503});
    CHECK(statuses(lbd.port(), "/api/a", 3) == std::vector<int>{200, 200, 200});  // no key: not limited
    // Client IP behind a trusted proxy (127.0.0.1): X-Forwarded-For names the client.
    auto c1 = statuses(lbd.port(), "/ip/x", 6, "X-Forwarded-For: 198.51.100.1\r\n");
    auto c2 = statuses(lbd.port(), "/ip/x", 6, "X-Forwarded-For: 198.51.100.2\r\n");
    CHECK(count_of(c1, 200) == 4);
    CHECK(count_of(c2, 200) == 4);
    // Other paths are not limited.
    CHECK(count_of(statuses(lbd.port(), "/other", 8), 200) == 8);
}

TEST_CASE("a reload keeps an unchanged zone's counters; a changed zone starts over") {
    HttpBackend a("a");
    const std::string pools = http_pool("web", {&a});
    const std::string one_a_minute =
        "    rate_limit_zones { name: \"z\" requests: 1 period_ms: 60000 }\n    rate_limits: \"z\"\n";
    RunningLbd lbd(http_config(pools, one_a_minute));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(statuses(lbd.port(), "/x", 2) == std::vector<int>{200, 429});
    // Same zone, one more route: the client is still over its allowance.
    REQUIRE(reload_lbd(lbd, http_config(pools, one_a_minute + "    routes { match { path_exact: \"/new\" } "
                                                                "respond { status: 200 body: \"new\\n\" } }\n"),
                       "reload applied", 1));
    CHECK(statuses(lbd.port(), "/x", 1) == std::vector<int>{429});
    CHECK(statuses(lbd.port(), "/new", 1) == std::vector<int>{429});  // listener-wide: local answers count too
    // A changed zone is a new zone.
    REQUIRE(reload_lbd(lbd,
                       http_config(pools, "    rate_limit_zones { name: \"z\" requests: 1 period_ms: 60000 burst: 1 }\n"
                                          "    rate_limits: \"z\"\n"),
                       "reload applied", 2));
    CHECK(statuses(lbd.port(), "/x", 3) == std::vector<int>{200, 200, 429});
}

}  // namespace
}  // namespace lbd::test
