// The CPU governor (l7/compression/cpu_governor.h) end to end: a response that takes more than
// max_cpu_percent of a worker's window leaves the next ones uncompressed, and the meter is the
// worker's, so what one listener compresses counts against another's limit on the same worker.
#include <doctest/doctest.h>

#include <string>

#include "tests/integration/compress_scenario.h"

namespace lbd::test {
namespace {

TEST_CASE("the CPU governor: over max_cpu_percent, the next response goes uncompressed") {
    struct Row {
        const char* algorithm;
        const char* compression;
        const char* size;  // random bytes: far over 1% of 10 s of one worker's CPU
    };
    const Row rows[] = {
        {"gzip", "{ max_cpu_percent: 1 cpu_window_ms: 10000 }", "10485760"},
        {"zstd", "{ algorithms: [\"zstd\"] zstd_level: 19 max_cpu_percent: 1 cpu_window_ms: 10000 }", "4194304"},
    };
    for (const Row& row : rows) {
        const std::string algorithm = row.algorithm;  // CAPTURE of a char* shows its address
        const std::string algorithm_name = algorithm;
        CAPTURE(algorithm_name);
        Compressing s(row.compression);
        INFO(s.lbd->log());
        REQUIRE(s.ok());
        RunningLbd& lbd = s.lbd;
        const uint16_t admin = admin_port(lbd);
        // One connection, so one worker: the governor is the worker's.
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        const std::string request = std::string("GET /r?size=") + row.size +
                                    "&kind=random HTTP/1.1\r\nHost: x\r\nAccept-Encoding: " + row.algorithm + "\r\n\r\n";
        REQUIRE(send_all(fd.get(), request, kIoTimeoutMs));
        auto first = read_http_reply(fd.get(), 30000);
        REQUIRE(first);
        CHECK(first->header("Content-Encoding") == row.algorithm);
        REQUIRE(send_all(fd.get(), request, kIoTimeoutMs));
        auto second = read_http_reply(fd.get(), 30000);
        REQUIRE(second);
        CHECK(second->header("Content-Encoding") == "");
        CHECK(second->header("Vary") == "Accept-Encoding");
        CHECK(skipped(admin, "cpu") == 1);
    }
}

// A listener besides "front" on the same lbd, with its own compression block.
std::string listener(const std::string& name, const std::string& compression) {
    return "listeners {\n  name: \"" + name +
           "\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n  http {\n    compression " +
           compression + "\n  }\n}\n";
}

TEST_CASE("the CPU governor is the worker's: one listener's compressing counts against another's limit") {
    const std::string limited = "{ max_cpu_percent: 1 cpu_window_ms: 10000 }";
    Origin origin;
    std::string config = compress_config(origin, limited) + listener("second", limited) + listener("unlimited", "{}");
    // One worker, so the three listeners' exchanges run on it.
    const std::string two_workers = "workers: 2";
    config.replace(config.find(two_workers), two_workers.size(), "workers: 1");
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(origin.port() != 0);
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    const uint16_t second = lbd->listener_port("second");
    const uint16_t unlimited = lbd->listener_port("unlimited");
    REQUIRE(second != 0);
    REQUIRE(unlimited != 0);
    const std::string gzip = "Accept-Encoding: gzip\r\n";
    // 10 MiB of random bytes through "front": far over 1% of 10 s of the worker's CPU.
    Fetched first = fetch(lbd.port(), "/r?size=10485760&kind=random", gzip);
    REQUIRE(first.ok);
    CHECK(first.reply.header("Content-Encoding") == "gzip");
    // "second" has compressed nothing yet, but its limit is of the worker's time.
    Fetched other = fetch(second, "/r?size=100000&kind=text", gzip);
    REQUIRE(other.ok);
    CHECK(other.reply.header("Content-Encoding") == "");
    CHECK(other.reply.header("Vary") == "Accept-Encoding");
    CHECK(skipped(admin, "cpu", "second") == 1);
    CHECK(skipped(admin, "cpu", "front") == 0);
    // The limit is each listener's own: one without a limit compresses on the same worker.
    Fetched free = fetch(unlimited, "/r?size=100000&kind=text", gzip);
    REQUIRE(free.ok);
    CHECK(free.reply.header("Content-Encoding") == "gzip");
    CHECK(skipped(admin, "cpu", "unlimited") == 0);
}

}  // namespace
}  // namespace lbd::test
