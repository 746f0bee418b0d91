// `lbd -t -c FILE`: a valid config is reported as valid (exit 0); an invalid one is reported as
// "FILE:LINE:COL: message" (exit 1), so an operator can jump to the mistake.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

// The LINE of the first "PATH:LINE:COL: message" in `output`, 0 if there is none.
int located_error_line(const std::string& output, const std::string& path) {
    for (size_t at = output.find(path + ":"); at != std::string::npos; at = output.find(path + ":", at + 1)) {
        const char* p = output.c_str() + at + path.size() + 1;
        char* end = nullptr;
        long line = std::strtol(p, &end, 10);
        if (end == p || *end != ':') continue;
        const char* col = end + 1;
        std::strtol(col, &end, 10);
        if (end == col || std::string_view(end).substr(0, 2) != ": ") continue;
        return static_cast<int>(line);
    }
    return 0;
}

// A valid config whose lines are numbered in the comments, so the bad variants below can say
// which line their mistake is on.
std::string config_with(const std::string& listener_name_line, const std::string& bind_line,
                        const std::string& pool_ref_line, const std::string& balance_line) {
    return "global { workers: 1 }\n"              // 1
           "listeners {\n"                        // 2
           "  " + listener_name_line + "\n" +     // 3
           "  " + bind_line + "\n" +              // 4
           "  " + pool_ref_line + "\n" +          // 5
           "}\n"                                  // 6
           "pools {\n"                            // 7
           "  name: \"p\"\n"                      // 8
           "  " + balance_line + "\n" +           // 9
           "  servers { name: \"a\" address: \"127.0.0.1:9\" }\n"  // 10
           "}\n";
}

const std::string kName = "name: \"front\"";
const std::string kBind = "bind: \"127.0.0.1:0\"";
const std::string kPoolRef = "pool: \"p\"";
const std::string kBalance = "balance: \"round_robin\"";

// Runs `lbd -t` on `config`, expecting it rejected with a "FILE:LINE:COL: " line. Returns that
// line's LINE (0 if there is no such line).
int rejected_at_line(const std::string& config) {
    LbdProcess::CheckResult r = LbdProcess::run_check(config);
    INFO("lbd -t output:\n", r.output);
    CHECK(r.exit_code == 1);
    int line = located_error_line(r.output, r.config_path);
    CHECK(line > 0);
    return line;
}

TEST_CASE("lbd -t accepts a valid config and says so") {
    LbdProcess::CheckResult r = LbdProcess::run_check(config_with(kName, kBind, kPoolRef, kBalance));
    INFO("lbd -t output:\n", r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("configuration file " + r.config_path + " is valid") != std::string::npos);
}

TEST_CASE("lbd -t rejects a syntax error and points at its line") {
    SUBCASE("unknown field") { CHECK(rejected_at_line(config_with(kName, "bnid: \"127.0.0.1:0\"", kPoolRef, kBalance)) == 4); }
    SUBCASE("wrong value type") { CHECK(rejected_at_line(config_with(kName, kBind, "pool: 12", kBalance)) == 5); }
    SUBCASE("unbalanced braces") {
        CHECK(rejected_at_line("global { workers: 1 }\nlisteners {\n  name: \"front\"\n") > 0);
    }
}

// The loader checks meaning after parsing, and must still point at the offending field's line.
TEST_CASE("lbd -t rejects a config that parses but makes no sense") {
    SUBCASE("listener names a pool that does not exist") {
        CHECK(rejected_at_line(config_with(kName, kBind, "pool: \"nope\"", kBalance)) == 5);
    }
    SUBCASE("bind is not host:port") {
        CHECK(rejected_at_line(config_with(kName, "bind: \"localhost\"", kPoolRef, kBalance)) == 4);
    }
    SUBCASE("unknown balancing algorithm") {
        CHECK(rejected_at_line(config_with(kName, kBind, kPoolRef, "balance: \"fastest\"")) == 9);
    }
}

TEST_CASE("lbd -c with an invalid config exits non-zero without becoming ready") {
    LbdProcess lbd(config_with(kName, kBind, "pool: \"nope\"", kBalance));
    INFO(lbd.log());
    std::optional<int> status = lbd.wait_exit(5000);
    REQUIRE(status.has_value());
    CHECK(*status != 0);
    CHECK(lbd.count("lbd ready") == 0);
}

// The edit, check, reload habit: `lbd -t` on the config of the lbd that runs it passes (it asks
// that lbd, over the admin socket, which listeners it serves: a reload keeps their sockets), and an
// address the running lbd holds for another listener is still a conflict, named at its bind line.
TEST_CASE("lbd -t passes on a running lbd's own config and refuses its address for another listener") {
    TempDir dir;
    const uint16_t port = pick_free_port();
    auto config_named = [&](const std::string& name) {
        return "global { workers: 1 admin { socket_path: \"" + dir.path() + "/admin.sock\" } }\n"  // 1
               "listeners { name: \"" + name + "\"\n"                                                // 2
               "  bind: \"127.0.0.1:" + std::to_string(port) + "\" pool: \"p\" }\n"                 // 3
               "pools { name: \"p\" servers { name: \"a\" address: \"127.0.0.1:9\" } }\n";
    };
    LbdProcess lbd(config_named("front"));
    INFO(lbd.log());
    REQUIRE(lbd.wait_ready());

    LbdProcess::CheckResult same = LbdProcess::run_check(config_named("front"));
    INFO("same config:\n", same.output);
    CHECK(same.exit_code == 0);

    LbdProcess::CheckResult other = LbdProcess::run_check(config_named("renamed"));
    INFO("renamed listener:\n", other.output);
    CHECK(other.exit_code == 1);
    CHECK(other.output.find(other.config_path + ":3:") != std::string::npos);
    CHECK(other.output.find("already in use") != std::string::npos);
}

}  // namespace
}  // namespace lbd::test
