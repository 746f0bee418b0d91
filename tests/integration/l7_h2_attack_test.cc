// The HTTP/2 attack battery (issue 12) against one lbd (l7/h2_connection.h's defences): each
// attack of tests/integration/h2_attacks.py on a connection of its own, sent without reading
// lbd's answers, must end in GOAWAY (with the attack's error code) after a bounded number of the
// attack's frames, be counted under its cause in lbd_http2_limits_total, leave lbd's RSS
// bounded, and leave a well-behaved client on another connection of the same worker served.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/l7_tls_scenario.h"

namespace lbd::test {
namespace {

using l7::test::run;
using l7::test::RunResult;

struct AttackCase {
    std::string name;
    int count;            // frames or streams the attack sends (0: none)
    std::string goaway;   // the GOAWAY's error code: 11 ENHANCE_YOUR_CALM, 0 NO_ERROR
    long max_frames;      // the attack's frames lbd may take before it (-1: not seen on the wire)
    long max_delta;       // how far its cause counter may move
};

// The value after `key` ("frames=") up to the end of its word, or "" when absent.
std::string field(const std::string& output, const std::string& key) {
    const size_t at = output.find(key);
    if (at == std::string::npos) return "";
    const size_t from = at + key.size();
    return output.substr(from, output.find_first_of(" \n", from) - from);
}

long number(const std::string& output, const std::string& key) {
    const std::string value = field(output, key);
    return value.empty() || value == "None" ? -1 : std::stol(value);
}

TEST_CASE("attack battery: every HTTP/2 attack ends in GOAWAY, counted by cause; RSS bounded; others served") {
    HttpBackend a("a");
    // One worker, so the well-behaved client shares the attacker's thread; limits small, so the
    // battery is quick: resets 20/s (bursts of 40, under the glitch budget, which lbd's own
    // resets also spend), PING/SETTINGS 20/s (bursts of 40), a glitch
    // budget of 50, heads in 4 CONTINUATION frames and 4 KiB at most, 300 ms for a head, 400 ms of
    // an idle connection or a stalled body.
    RunningLbd lbd(
        "global { workers: 1 drain_timeout_ms: 2000 admin { http_bind: \"127.0.0.1:0\" } }\n"
        "listeners {\n"
        "  name: \"front\"\n"
        "  bind: \"127.0.0.1:0\"\n"
        "  mode: MODE_HTTP\n"
        "  pool: \"web\"\n"
        "  http {\n"
        "    timeouts { client_header_ms: 300 body_idle_ms: 400 }\n"
        "    http2 { cleartext: true max_resets_per_second: 20 max_control_frames_per_second: 20\n"
        "            max_glitches: 50 max_continuations: 4 max_header_list_bytes: 4096 idle_timeout_ms: 400 }\n"
        "  }\n"
        "}\n" + http_pool("web", {&a}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    const std::vector<AttackCase> attacks{
        {"rapid_reset", 2000, "11", 50, 1},         // the burst, and what 20/s refills meanwhile
        {"made_you_reset", 500, "11", 50, 1},
        {"continuation", 1000, "11", -1, 1},        // the 5th CONTINUATION frame
        {"hpack_bomb", 200, "11", 51, 51},          // bombs reset until the glitch budget is spent
        {"settings_flood", 20000, "11", 45, 1},     // the burst of 40 (the preface's SETTINGS among them)
        {"ping_flood", 20000, "11", 45, 1},
        {"empty_data", 2000, "11", -1, 51},         // the glitch budget
        {"window_dribble", 1000, "11", 51, 51},
        {"zero_window", 0, "0", 0, 3},              // body_idle_ms resets the stream, then the idle timeout
        {"slow_headers", 0, "0", -1, 1},
        {"idle", 0, "0", -1, 3},  // (other connections may idle out meanwhile)
    };
    const std::string script = H2_ATTACKS;
    const std::string port = std::to_string(lbd.port());
    for (const AttackCase& attack : attacks) {
        std::vector<std::string> argv{"/usr/bin/python3", script, attack.name, port, std::to_string(admin),
                                      std::to_string(lbd->pid())};
        if (attack.count != 0) argv.push_back(std::to_string(attack.count));
        RunResult r = run(argv, 30000);
        MESSAGE(attack.name << ":\n" << r.output);
        INFO(attack.name << ":\n" << r.output);
        CHECK(r.exit_code == 0);
        CHECK(field(r.output, "goaway=") == attack.goaway);
        CHECK(field(r.output, "closed=") == "1");
        CHECK(field(r.output, "good=") == "200");
        const long frames = number(r.output, "frames=");
        if (attack.max_frames >= 0) {
            CHECK(frames >= 0);
            CHECK(frames <= attack.max_frames);
        }
        // A response that never gets a window is reset (INTERNAL_ERROR) once body_idle_ms passed.
        if (attack.name == "zero_window") CHECK(field(r.output, "reset=") == "2");
        const long delta = number(r.output, "delta=");
        CHECK(delta >= 1);
        CHECK(delta <= attack.max_delta);
        // The attack's memory: a connection's buffers (its output up to 128 KiB, a stream's
        // response up to 256 KiB, what nghttp2 queues), never what the attacker sent or asked for.
        const long growth = number(r.output, "rss_peak_kib=") - number(r.output, "rss_before_kib=");
        CHECK(growth < 16 * 1024);
        // A bomb is not decoded to its end: 51 of them cost lbd ~10 ms of CPU, not the ~420 ms
        // that checking 16 MB of fields each took.
        if (attack.name == "hpack_bomb") CHECK(number(r.output, "lbd_cpu_ms=") < 200);
        // A stream that never gets a window waits without the worker spinning (~390 ms of CPU in
        // the attack's 800 ms when the server's reads were left to the read watermark alone).
        if (attack.name == "zero_window") CHECK(number(r.output, "lbd_cpu_ms=") < 150);
    }
    CHECK(a.requests() > 0);
    // The attacks that spend the glitch budget were stopped by it.
    CHECK(metric(admin, "lbd_http2_limits_total{listener=\"front\",cause=\"glitches\"}") == 3);
}

}  // namespace
}  // namespace lbd::test
