// The response cache at scale on a real lbd (2 workers) in front of
// cache_origin.py: 1,000 concurrent misses on one key make exactly one origin
// fetch (the origin holds it until all 1,000 wait at lbd, so the count cannot
// depend on timing), and a 1 GiB response over the zone's max_object_bytes
// streams through unstored while lbd's resident memory stays flat.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/base/sanitizers.h"
#include "tests/integration/cache_origin.h"
#include "tests/integration/l7_scenario.h"

namespace lbd::test {
namespace {

std::string load_config(const TempDir& dir, uint16_t origin) {
    return "global { workers: 2 drain_timeout_ms: 2000 cache_zones { name: \"z\" }\n admin { socket_path: \"" +
           dir.path() + "/admin.sock\" http_bind: \"127.0.0.1:0\" } }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP backlog: 2048\n"
           "  http { routes { pool: \"web\" cache { zone: \"z\" } } }\n}\n"
           "pools { name: \"web\"\n" + server_entry("origin", origin) + "}\n";
}

// Raises this process's descriptor limit (which lbd, started after, inherits)
// to at least `needed`, within the hard limit; false if the hard limit is lower.
bool raise_descriptor_limit(rlim_t needed) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
    if (limit.rlim_cur >= needed) return true;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) return false;
    limit.rlim_cur = needed;
    return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

struct Fixture {
    Fixture() : lbd(load_config(dir, origin.port())) {}
    TempDir dir;
    Origin origin;
    RunningLbd lbd;
};

constexpr int kClients = 1000;

TEST_CASE("collapsing: 1,000 concurrent misses on one key make exactly one origin fetch") {
    // 1,000 client sockets here; 1,000 accepted ones plus a few in lbd.
    REQUIRE(raise_descriptor_limit(2 * kClients + 256));
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const uint16_t admin = admin_port(f.lbd);
    REQUIRE(admin != 0);
    const std::string target = "/thousand?h=Cache-Control:max-age%3D60&hold=thousand";
    std::vector<UniqueFd> clients;
    clients.reserve(kClients);
    for (int i = 0; i < kClients; ++i) {
        UniqueFd fd = connect_tcp(f.lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        REQUIRE(send_all(fd.get(), get_request(target), kIoTimeoutMs));
        clients.push_back(std::move(fd));
    }
    // The origin holds the one fetch until every other request waits for it at lbd.
    const std::string collapsed = "lbd_http_cache_collapsed_total{zone=\"z\"}";
    CHECK(poll_until([&] { return metric(admin, collapsed) == kClients - 1; }, 20000));
    CHECK(poll_until([&] { return f.origin.count("/thousand") == 1; }));
    REQUIRE(f.origin.release("thousand"));
    int hits = 0;
    int misses = 0;
    int right_body = 0;
    for (UniqueFd& fd : clients) {
        auto reply = read_http_reply(fd.get(), 10000);
        if (!reply || reply->status != 200) continue;
        hits += reply->header("X-Cache-Status") == "HIT";
        misses += reply->header("X-Cache-Status") == "MISS";
        right_body += reply->body == "path=/thousand n=1 ae=-\n";
    }
    CHECK(misses == 1);
    CHECK(hits == kClients - 1);
    CHECK(right_body == kClients);
    CHECK(f.origin.count("/thousand") == 1);
    CHECK(metric(admin, "lbd_http_cache_collapse_timeouts_total{zone=\"z\"}") == 0);
}

TEST_CASE("a 1 GiB response over max_object_bytes streams through unstored with flat memory") {
    Fixture f;
    INFO(f.lbd->log());
    REQUIRE(f.lbd.ok());
    const uint16_t admin = admin_port(f.lbd);
    const pid_t pid = f.lbd->pid();
    // A warm-up through the same path (workers, buffers, the origin connection) before the baseline.
    auto warm = http_request(f.lbd.port(), get_request("/warm?h=Cache-Control:max-age%3D60&stream=65536"),
                             kIoTimeoutMs);
    REQUIRE(warm);
    const size_t baseline_kib = rss_kib(pid);
    REQUIRE(baseline_kib > 0);

    // Chunked: lbd cannot tell the size from the head, so it starts copying for the
    // zone and must drop the copy at max_object_bytes (1 MiB) and only stream the rest.
    // HTTP/1.0: the body comes until close, the bytes exactly as the origin sent them.
    constexpr size_t kSize = size_t{1} << 30;
    UniqueFd fd = connect_tcp(f.lbd.port(), kIoTimeoutMs);
    REQUIRE(fd);
    std::string request = get_request("/huge?h=Cache-Control:max-age%3D60&chunked=1&stream=" + std::to_string(kSize));
    request.replace(request.find("HTTP/1.1"), 8, "HTTP/1.0");
    REQUIRE(send_all(fd.get(), request, kIoTimeoutMs));
    std::optional<std::string> head = recv_line(fd.get(), kIoTimeoutMs);
    REQUIRE(head);
    CHECK(has(*head, " 200 "));
    std::string fields;
    for (;;) {
        std::optional<std::string> line = recv_line(fd.get(), kIoTimeoutMs);
        if (!line || line->size() <= 2) break;  // the empty line (or none: the check below fails)
        fields.append(*line);
    }
    CHECK(has(fields, "X-Cache-Status: MISS"));

    // Byte k must be k % 251 (cache_origin.py's stream=): checked as it arrives, never held whole.
    const timeval stall{10, 0};  // a transfer that stops fails the test rather than hanging it
    REQUIRE(setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof stall) == 0);
    size_t received = 0;
    unsigned expected = 0;  // received % 251
    size_t wrong = 0;
    size_t peak_kib = baseline_kib;
    size_t next_sample = 0;
    std::vector<char> buffer(1 << 20);
    for (;;) {
        const ssize_t n = recv(fd.get(), buffer.data(), buffer.size(), 0);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            wrong += static_cast<unsigned char>(buffer[static_cast<size_t>(i)]) != expected;
            expected = expected == 250 ? 0 : expected + 1;
        }
        received += static_cast<size_t>(n);
        if (received >= next_sample) {
            peak_kib = std::max(peak_kib, rss_kib(pid));
            next_sample += 16 << 20;
        }
    }
    peak_kib = std::max(peak_kib, rss_kib(pid));
    INFO("baseline " << baseline_kib << " KiB, peak " << peak_kib << " KiB");
    CHECK(received == kSize);
    CHECK(wrong == 0);
    // Under ASan the freed 1 MiB pieces sit in the quarantine (256 MiB by default) with their
    // shadow and redzones before reuse: about 500 MiB more RSS was seen there. That build checks a
    // bound that still catches the body held whole (1 GiB more); the release build checks the real one.
    CHECK(peak_kib - baseline_kib < (lbd::kAddressSanitizer ? (64 + 640) * 1024 : 64 * 1024));
    CHECK(metric(admin, "lbd_http_cache_too_large_total{zone=\"z\"}") == 1);
    CHECK(metric(admin, "lbd_http_cache_objects{zone=\"z\"}") == 1);  // the warm-up's only
    CHECK(f.origin.count("/huge") == 1);
}

}  // namespace
}  // namespace lbd::test
