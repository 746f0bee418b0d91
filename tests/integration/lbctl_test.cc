// lbctl against the real lbd: status, servers, draining a server under load (with --wait), enable,
// weight, stick tables, stats, and lbctl's contract with scripts: exit codes (0 done, 1 refused,
// 2 usage, 3 unreachable), one JSON document with --json, and `config check`.
//
// Every scenario starts its own lbd with an admin socket in a temp dir and in-process backends
// whose greeting ("NAME\n") tells a client which server it reached. lbctl runs as a child process
// (stdout and stderr merged). JSON output is checked by parsing it back into the reply message.
// Waits are polls with deadlines; the one "nothing happens" check uses a short bounded wait.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lbd/v1/admin.pb.h"
#include "tests/integration/lbctl_run.h"
#include "tests/integration/scenario.h"

namespace lbd::test {
namespace {

namespace v1 = ::lbd::v1;

// How long the "--wait is still waiting" check waits: lbctl polls every 100 ms, so a --wait that
// wrongly thought the server idle would have exited well within this.
constexpr int kStillWaitingMs = 500;

// lbd with one listener "front" -> pool "p", and an admin socket in a fresh temp dir.
class AdminLbd {
public:
    explicit AdminLbd(const std::string& pool_body, const std::string& workers = "workers: 2")
        : socket_(dir_.path() + "/admin.sock"),
          lbd_(single_pool_config(pool_body, "",
                                  workers + " drain_timeout_ms: 2000 admin { socket_path: \"" + socket_ + "\" }")) {}

    bool ok() { return lbd_.ok(); }
    uint16_t port() const { return lbd_.port(); }
    const std::string& socket() const { return socket_; }
    std::string log() { return lbd_->log(); }
    const std::string& config_path() { return lbd_->config_path(); }

    // lbctl --socket SOCKET args...
    Run ctl(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--socket", socket_});
        return lbctl(args);
    }
    // Runs `ctl(args)` until `done` says yes or the deadline passes; returns the last run.
    Run ctl_until(std::vector<std::string> args, const std::function<bool(const Run&)>& done,
                  int timeout_ms) const {
        args.insert(args.begin(), {"--socket", socket_});
        return lbctl_until(args, done, timeout_ms);
    }

private:
    TempDir dir_;  // first: the socket's directory outlives lbd
    std::string socket_;
    RunningLbd lbd_;
};

// A connection through lbd that reached server `name`. Round robin alternates, so a few tries
// suffice; connections to other servers are closed.
UniqueFd open_to(uint16_t port, const std::string& name) {
    for (int i = 0; i < 10; ++i) {
        UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
        if (fd && greeting_of(fd.get()) == name + "\n") return fd;
    }
    return {};
}

// The row of server `name` in `servers --json` output.
std::optional<v1::ServerInfo> server_row(const Run& run, const std::string& name) {
    auto reply = parse_json<v1::ServersReply>(run.output);
    if (!reply) return std::nullopt;
    for (const auto& s : reply->servers()) {
        if (s.name() == name) return s;
    }
    return std::nullopt;
}

TEST_CASE("lbctl status: version, role, workers and the listener, as a table and as JSON") {
    NamedServer a("a");
    REQUIRE(a.port() != 0);
    AdminLbd lbd(server_entry("a", a.port()));
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    Run human = lbd.ctl({"status"});
    INFO("lbctl status:\n", human.output);
    CHECK(human.exit_code == 0);
    CHECK(contains(human.output, "standalone"));
    CHECK(contains(human.output, "front"));
    CHECK(contains(human.output, lbd.config_path()));
    CHECK(contains(human.output, "LISTENER"));
    CHECK(contains(human.output, "workers  2 (connections 0, 0)"));

    Run json = lbd.ctl({"--json", "status"});
    INFO("lbctl --json status:\n", json.output);
    CHECK(json.exit_code == 0);
    CHECK(contains(json.output, "\"workers\": 2"));
    auto status = parse_json<v1::StatusReply>(json.output);
    REQUIRE(status);
    CHECK(status->role() == "standalone");
    CHECK(status->workers() == 2);
    CHECK(status->pid() > 0);
    CHECK(status->config_path() == lbd.config_path());
    CHECK(status->config_sha256().size() == 64);
    REQUIRE(status->listeners_size() == 1);
    CHECK(status->listeners(0).name() == "front");
    CHECK(status->listeners(0).pool() == "p");
    CHECK(status->listeners(0).mode() == "tcp");
    REQUIRE(status->worker_connections_size() == 2);
    CHECK(status->worker_connections(0) + status->worker_connections(1) == 0);

    // Connections held open show on the workers that serve them, evened out (at most 3 apart).
    std::vector<UniqueFd> held;
    for (int i = 0; i < 8; ++i) {
        held.push_back(open_to(lbd.port(), "a"));
        REQUIRE(held.back());
    }
    auto busy = parse_json<v1::StatusReply>(lbd.ctl({"--json", "status"}).output);
    REQUIRE(busy);
    REQUIRE(busy->worker_connections_size() == 2);
    CHECK(busy->worker_connections(0) + busy->worker_connections(1) == 8);
    CHECK(std::abs(int(busy->worker_connections(0)) - int(busy->worker_connections(1))) <= 3);

    // The socket from the environment, and global options after the command.
    Run from_env = lbctl({"status", "--json"}, {"LBD_ADMIN_SOCKET=" + lbd.socket()});
    INFO("LBD_ADMIN_SOCKET=... lbctl status --json:\n", from_env.output);
    CHECK(from_env.exit_code == 0);
    CHECK(parse_json<v1::StatusReply>(from_env.output).has_value());
}

TEST_CASE("lbctl servers: every server with state and counters; an unknown pool is NOT_FOUND (exit 1)") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    AdminLbd lbd(server_entry("a", a.port()) + server_entry("b", b.port()));
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    for (int i = 0; i < 4; ++i) {
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        CHECK(greeting_of(fd.get()).size() == 2);
    }

    Run human = lbd.ctl({"servers"});
    INFO("lbctl servers:\n", human.output);
    CHECK(human.exit_code == 0);
    CHECK(contains(human.output, "POOL/NAME"));
    CHECK(contains(human.output, "LAST CHANGE"));
    CHECK(contains(human.output, "p/a "));
    CHECK(contains(human.output, "p/b "));
    CHECK(contains(human.output, "127.0.0.1:" + std::to_string(a.port())));
    CHECK(contains(human.output, "READY"));
    CHECK(contains(human.output, " ago"));

    // Counters are updated when connections start and end: poll until the 4 are counted and closed.
    Run json = lbd.ctl_until(
        {"--json", "servers", "p"},
        [](const Run& r) {
            auto ra = server_row(r, "a"), rb = server_row(r, "b");
            return ra && rb && ra->total_connections() + rb->total_connections() == 4 &&
                   ra->active_connections() + rb->active_connections() == 0;
        },
        kIoTimeoutMs);
    INFO("lbctl --json servers p:\n", json.output);
    CHECK(json.exit_code == 0);
    auto ra = server_row(json, "a"), rb = server_row(json, "b");
    REQUIRE((ra && rb));
    CHECK(ra->pool() == "p");
    CHECK(ra->address() == "127.0.0.1:" + std::to_string(a.port()));
    CHECK(ra->state() == "UP");
    CHECK(ra->admin_state() == "READY");
    CHECK(ra->weight() == 1);
    CHECK(ra->total_connections() + rb->total_connections() == 4);
    CHECK(ra->active_connections() + rb->active_connections() == 0);
    CHECK(ra->last_change_unix_ms() > 0);

    Run missing = lbd.ctl({"servers", "nope"});
    INFO("lbctl servers nope:\n", missing.output);
    CHECK(missing.exit_code == 1);
    CHECK(contains(missing.output, "lbctl: NOT_FOUND: no pool named 'nope'"));

    Run missing_json = lbd.ctl({"--json", "servers", "nope"});
    INFO("lbctl --json servers nope:\n", missing_json.output);
    CHECK(missing_json.exit_code == 1);
    // The error document has the shape of an AdminResponse holding an AdminError.
    auto error = parse_json<v1::AdminResponse>(missing_json.output);
    REQUIRE(error);
    CHECK(error->result_case() == v1::AdminResponse::kError);
    CHECK(error->error().code() == v1::AdminError::NOT_FOUND);
    CHECK(error->error().message() == "no pool named 'nope'");

    Run no_server = lbd.ctl({"server", "drain", "p/zzz"});
    CHECK(no_server.exit_code == 1);
    CHECK(contains(no_server.output, "NOT_FOUND"));
}

TEST_CASE("lbctl server drain under load: new connections avoid it, the open one goes on, --wait ends with it") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    // One worker, so round robin alternates strictly and a connection to a is found at once.
    AdminLbd lbd(server_entry("a", a.port()) + server_entry("b", b.port()), "workers: 1");
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    UniqueFd held = open_to(lbd.port(), "a");
    REQUIRE(held);
    REQUIRE(echoes(held.get(), "before drain\n"));

    Run drain = lbd.ctl({"server", "drain", "p/a"});
    INFO("lbctl server drain p/a:\n", drain.output);
    CHECK(drain.exit_code == 0);
    CHECK(contains(drain.output, "p/a "));
    CHECK(contains(drain.output, "DRAIN"));

    for (int i = 0; i < 10; ++i) {
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        CHECK(greeting_of(fd.get()) == "b\n");
    }
    CHECK(echoes(held.get(), "after drain\n"));

    Run servers = lbd.ctl({"--json", "servers", "p"});
    auto row = server_row(servers, "a");
    REQUIRE(row);
    CHECK(row->state() == "DRAIN");
    CHECK(row->admin_state() == "DRAIN");
    CHECK(row->active_connections() == 1);

    // --wait gives up at its timeout while the connection stays open: exit 1.
    Run timed_out = lbd.ctl({"server", "drain", "p/a", "--wait", "--wait-timeout", "0.3"});
    INFO("lbctl server drain p/a --wait --wait-timeout 0.3:\n", timed_out.output);
    CHECK(timed_out.exit_code == 1);
    CHECK(contains(timed_out.output, "lbctl: TIMEOUT: p/a still has 1 open connection(s)"));
    Run timed_out_json = lbd.ctl({"--json", "server", "drain", "p/a", "--wait", "--wait-timeout", "0.2"});
    INFO("lbctl --json server drain p/a --wait --wait-timeout 0.2:\n", timed_out_json.output);
    CHECK(timed_out_json.exit_code == 1);
    CHECK(contains(timed_out_json.output, "\"code\": \"TIMEOUT\""));

    // --wait in the background returns 0 once the held connection closes, and promptly.
    ChildProcess waiter({LBCTL_BINARY, "--socket", lbd.socket(), "server", "drain", "p/a", "--wait", "--wait-timeout",
                         "5"});
    INFO("lbctl server drain p/a --wait:\n", waiter.output());
    REQUIRE(waiter.await_line("waiting for p/a: 1 open connection(s)", kLbctlTimeoutMs));
    CHECK_FALSE(waiter.wait_exit(kStillWaitingMs).has_value());
    CHECK(echoes(held.get(), "still served\n"));
    held.reset();
    Deadline prompt(2000);
    std::optional<int> waited = waiter.wait_exit(kLbctlTimeoutMs);
    CHECK(waited == 0);
    CHECK_FALSE(prompt.expired());
    waiter.await_output_end(kIoTimeoutMs);
    CHECK(waiter.count("p/a has no open connection") == 1);

    Run enable = lbd.ctl({"server", "enable", "p/a"});
    INFO("lbctl server enable p/a:\n", enable.output);
    CHECK(enable.exit_code == 0);
    CHECK(contains(enable.output, "READY"));
    CHECK(static_cast<bool>(open_to(lbd.port(), "a")));

    // disable is MAINT, like maint.
    Run disable = lbd.ctl({"--json", "server", "disable", "p/b"});
    INFO("lbctl --json server disable p/b:\n", disable.output);
    CHECK(disable.exit_code == 0);
    auto disabled = parse_json<v1::ServerInfo>(disable.output);
    REQUIRE(disabled);
    CHECK(disabled->state() == "MAINT");
    for (int i = 0; i < 4; ++i) {
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        CHECK(greeting_of(fd.get()) == "a\n");
    }
}

TEST_CASE("lbctl server weight: 1..256 applied, 0 and 300 refused by lbd (exit 1)") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    AdminLbd lbd(server_entry("a", a.port()) + server_entry("b", b.port()));
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    Run set = lbd.ctl({"server", "weight", "p/a", "7"});
    INFO("lbctl server weight p/a 7:\n", set.output);
    CHECK(set.exit_code == 0);
    CHECK(contains(set.output, "WEIGHT"));
    auto row = server_row(lbd.ctl({"--json", "servers"}), "a");
    REQUIRE(row);
    CHECK(row->weight() == 7);

    for (const char* bad : {"0", "300"}) {
        CAPTURE(bad);
        Run refused = lbd.ctl({"server", "weight", "p/a", bad});
        INFO(refused.output);
        CHECK(refused.exit_code == 1);
        CHECK(contains(refused.output, "lbctl: INVALID_ARGUMENT: weight " + std::string(bad) + " out of range"));
    }
    Run refused_json = lbd.ctl({"--json", "server", "weight", "p/a", "300"});
    CHECK(refused_json.exit_code == 1);
    CHECK(contains(refused_json.output, "\"code\": \"INVALID_ARGUMENT\""));
    row = server_row(lbd.ctl({"--json", "servers"}), "a");
    REQUIRE(row);
    CHECK(row->weight() == 7);

    CHECK(lbd.ctl({"server", "weight", "nope/a", "3"}).exit_code == 1);
}

TEST_CASE("lbctl stick show/set/flush on a pool with stickiness") {
    NamedServer a("a"), b("b");
    REQUIRE((a.port() && b.port()));
    AdminLbd lbd(server_entry("a", a.port()) + server_entry("b", b.port()) + "  stickiness {}\n");
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    const std::string first = visit_from("127.0.0.1", lbd.port());
    REQUIRE((first == "a" || first == "b"));

    Run show = lbd.ctl({"stick", "show", "p"});
    INFO("lbctl stick show p:\n", show.output);
    CHECK(show.exit_code == 0);
    CHECK(contains(show.output, "127.0.0.1  " + first));
    auto table = parse_json<v1::StickShowReply>(lbd.ctl({"--json", "stick", "show", "p"}).output);
    REQUIRE(table);
    REQUIRE(table->entries_size() == 1);
    CHECK(table->entries(0).key() == "127.0.0.1");
    CHECK(table->entries(0).server() == first);
    CHECK(table->entries(0).ttl_remaining_ms() > 0);

    // Pinning moves a client, whichever server balancing would give it.
    for (const char* target : {"a", "b"}) {
        CAPTURE(target);
        Run set = lbd.ctl({"stick", "set", "p", "127.0.0.9", target});
        INFO("lbctl stick set:\n", set.output);
        CHECK(set.exit_code == 0);
        for (int i = 0; i < 3; ++i) CHECK(visit_from("127.0.0.9", lbd.port()) == target);
    }
    CHECK(lbd.ctl({"stick", "set", "p", "127.0.0.9", "p/a"}).exit_code == 0);  // POOL/NAME also names it
    CHECK(visit_from("127.0.0.9", lbd.port()) == "a");

    Run bad_key = lbd.ctl({"stick", "set", "p", "not-an-ip", "a"});
    CHECK(bad_key.exit_code == 1);
    CHECK(contains(bad_key.output, "INVALID_ARGUMENT"));
    Run bad_server = lbd.ctl({"stick", "set", "p", "127.0.0.9", "zzz"});
    CHECK(bad_server.exit_code == 1);
    CHECK(contains(bad_server.output, "NOT_FOUND"));

    Run flush = lbd.ctl({"stick", "flush", "p"});
    INFO("lbctl stick flush p:\n", flush.output);
    CHECK(flush.exit_code == 0);
    CHECK(contains(flush.output, "removed 2"));
    table = parse_json<v1::StickShowReply>(lbd.ctl({"--json", "stick", "show", "p"}).output);
    REQUIRE(table);
    CHECK(table->entries_size() == 0);
}

TEST_CASE("lbctl stats counts the connections made and how they ended") {
    EchoServer echo;
    REQUIRE(echo.port() != 0);
    AdminLbd lbd(server_entry("echo", echo.port()));
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    constexpr int kConnections = 5;
    for (int i = 0; i < kConnections; ++i) {
        UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
        REQUIRE(fd);
        ExchangeResult r = exchange(fd.get(), "hello " + std::to_string(i) + "\n", kIoTimeoutMs);
        CHECK(std::string(to_string(r.end)) == "eof");
    }

    // A connection is counted as ended after the client saw its EOF: poll until all are.
    Run json = lbd.ctl_until(
        {"--json", "stats"},
        [](const Run& r) {
            auto stats = parse_json<v1::StatsReply>(r.output);
            return stats && stats->listeners_size() == 1 && stats->listeners(0).ended().count("closed") == 1 &&
                   stats->listeners(0).ended().at("closed") == kConnections;
        },
        kIoTimeoutMs);
    INFO("lbctl --json stats:\n", json.output);
    CHECK(json.exit_code == 0);
    auto stats = parse_json<v1::StatsReply>(json.output);
    REQUIRE(stats);
    REQUIRE(stats->listeners_size() == 1);
    const auto& front = stats->listeners(0);
    CHECK(front.name() == "front");
    CHECK(front.accepted() >= kConnections);
    CHECK(front.active() == 0);
    CHECK(front.ended().at("closed") == kConnections);
    uint64_t other_ends = 0;
    for (const auto& [reason, count] : front.ended()) other_ends += reason == "closed" ? 0 : count;
    CHECK(other_ends == 0);

    Run human = lbd.ctl({"stats"});
    INFO("lbctl stats:\n", human.output);
    CHECK(human.exit_code == 0);
    CHECK(contains(human.output, "closed=5"));
    CHECK_FALSE(contains(human.output, "client_reset"));  // zero reasons are left out
}

TEST_CASE("lbctl exit codes: 3 when no lbd answers, 2 on bad usage, 0 for --help") {
    TempDir dir;
    const std::string missing = dir.path() + "/admin.sock";

    Run none = lbctl({"--socket", missing, "status"});
    INFO(none.output);
    CHECK(none.exit_code == 3);
    CHECK(contains(none.output, "lbctl: cannot reach lbd at " + missing + ": "));

    Run none_json = lbctl({"--socket", missing, "--json", "servers"});
    CHECK(none_json.exit_code == 3);
    CHECK(contains(none_json.output, "\"code\": \"UNREACHABLE\""));

    Run from_env = lbctl({"stats"}, {"LBD_ADMIN_SOCKET=" + missing});
    CHECK(from_env.exit_code == 3);
    CHECK(contains(from_env.output, missing));

    // A socket that accepts (the kernel's backlog does) but never answers: the deadline ends it.
    UniqueFd silent(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(silent);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string silent_path = dir.path() + "/silent.sock";
    std::strncpy(addr.sun_path, silent_path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(silent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(silent.get(), 4) == 0);
    Deadline quick(kLbctlTimeoutMs / 2);
    Run hung = lbctl({"--socket", silent_path, "--timeout", "200", "status"});
    INFO(hung.output);
    CHECK(hung.exit_code == 3);
    CHECK(contains(hung.output, "no reply within 200 ms"));
    CHECK_FALSE(quick.expired());

    const std::vector<std::vector<std::string>> bad_usage = {
        {},                                                 // no command
        {"frobnicate"},                                     // unknown command
        {"server"},                                         // no action
        {"server", "drain"},                                // no server
        {"server", "drain", "nopool"},                      // not POOL/NAME
        {"server", "weight", "p/a", "heavy"},               // not a number
        {"server", "drain", "p/a", "--wait-timeout", "3"},  // needs --wait
        {"--timeout", "0", "status"},                       // out of range
        {"stick", "set", "p", "127.0.0.1"},                 // missing SERVER
        {"status", "extra"},                                // extra argument
        {"config", "check"},                                // no FILE
    };
    for (const auto& args : bad_usage) {
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        CAPTURE(joined);
        Run run = lbctl(args);
        INFO(run.output);
        CHECK(run.exit_code == 2);
        // With --json, a usage error is one JSON document too.
        std::vector<std::string> json_args = {"--json"};
        json_args.insert(json_args.end(), args.begin(), args.end());
        Run json = lbctl(json_args);
        INFO(json.output);
        CHECK(json.exit_code == 2);
        CHECK(contains(json.output, "\"code\": \"USAGE\""));
    }
    // An unknown command is named (CLI11 alone says only that a subcommand is required).
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"bogus"}, {"--socket", "/tmp/nothing.sock", "bogus", "x"}}) {
        Run run = lbctl(args);
        CHECK(run.exit_code == 2);
        CHECK(contains(run.output, "unknown command 'bogus'"));
    }

    Run help = lbctl({"--help"});
    CHECK(help.exit_code == 0);
    CHECK(contains(help.output, "Exit status"));
    CHECK(contains(help.output, "servers"));
    for (const char* sub : {"status", "servers", "stats"}) {
        CAPTURE(sub);
        Run sub_help = lbctl({sub, "--help"});
        CHECK(sub_help.exit_code == 0);
        CHECK(contains(sub_help.output, "Example:"));
    }
    Run drain_help = lbctl({"server", "drain", "--help"});
    CHECK(drain_help.exit_code == 0);
    CHECK(contains(drain_help.output, "--wait-timeout"));
    CHECK(contains(drain_help.output, "Example:"));
}

TEST_CASE("lbctl config check: the shipped example is ok (exit 0); a broken file gives file:line (exit 1)") {
    std::string example = std::string(LBD_SOURCE_DIR) + "/sysconf/lbd.conf";
    // The check looks the lbd user and group up, which the package makes: on a
    // machine without them, a copy names ones every Debian system has.
    std::optional<TempFile> copy;
    if (getpwnam("lbd") == nullptr || getgrnam("lbd") == nullptr) {
        std::ifstream in(example);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (const auto& [from, to] : {std::pair<std::string, std::string>{"user: \"lbd\"", "user: \"nobody\""},
                                       {"group: \"lbd\"", "group: \"nogroup\""}})
            for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) text.replace(at, from.size(), to);
        copy.emplace(text);
        example = copy->path();
    }
    Run ok = lbctl({"config", "check", example});
    INFO(ok.output);
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.output, example + ": ok"));

    TempFile broken("global { workers: 1 }\n"        // 1
                    "listeners {\n"                  // 2
                    "  name: \"front\"\n"            // 3
                    "  bind: \"127.0.0.1:0\"\n"      // 4
                    "  pool: \"nope\"\n"             // 5: no such pool
                    "}\n"
                    "pools {\n"
                    "  name: \"p\"\n"
                    "  servers { name: \"a\" address: \"127.0.0.1:9\" }\n"
                    "}\n");
    Run bad = lbctl({"config", "check", broken.path()});
    INFO(bad.output);
    CHECK(bad.exit_code == 1);
    CHECK(contains(bad.output, broken.path() + ":5:"));

    TempFile syntax("global { workers: 1 }\nlisteners { nmae: \"x\" }\n");
    Run bad_syntax = lbctl({"--json", "config", "check", syntax.path()});
    INFO(bad_syntax.output);
    CHECK(bad_syntax.exit_code == 1);
    CHECK(contains(bad_syntax.output, "\"ok\": false"));
    CHECK(contains(bad_syntax.output, syntax.path() + ":2:"));

    Run no_file = lbctl({"config", "check", "/nonexistent/lbd.conf"});
    CHECK(no_file.exit_code == 1);
}

// lbctl links the same registered config checks as lbd (core/config/config_modules.h), so it loads
// certificates and keys too: a key that does not belong to its certificate fails both, at the same
// line, instead of passing `lbctl config check` and failing the reload its help suggests.
TEST_CASE("lbctl config check and lbd -t agree on a key that does not match its certificate") {
    char dir_template[] = "/tmp/lbd-keymismatch-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    for (const char* name : {"a", "b"}) {
        std::string cmd = std::string("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 ") +
                          "-subj /CN=" + name + " -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name +
                          ".pem >/dev/null 2>&1";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    const std::string config = "global { workers: 1 }\n"                                    // 1
                               "listeners {\n"                                              // 2
                               "  name: \"web\" bind: \"127.0.0.1:0\" pool: \"p\" mode: MODE_HTTP\n"  // 3
                               "  tls {\n"                                                  // 4
                               "    certificates { cert_file: \"" + dir + "/a.pem\"\n"     // 5
                               "                   key_file: \"" + dir + "/b.key\" }\n"    // 6
                               "  }\n"
                               "}\n"
                               "pools { name: \"p\" servers { name: \"s\" address: \"127.0.0.1:9\" } }\n";
    TempFile file(config);
    Run checked = lbctl({"config", "check", file.path()});
    INFO(checked.output);
    CHECK(checked.exit_code == 1);
    LbdProcess::CheckResult tested = LbdProcess::run_check(config);
    INFO(tested.output);
    CHECK(tested.exit_code == 1);
    // Both name the same line of the certificate block (5 or 6) and the key file.
    auto line_after = [](const std::string& output, const std::string& path) {
        size_t at = output.find(path + ":");
        return at == std::string::npos ? std::string() : output.substr(at + path.size() + 1, 2);
    };
    const std::string line = line_after(checked.output, file.path());
    CHECK((line == "5:" || line == "6:"));
    CHECK(line_after(tested.output, tested.config_path) == line);
    CHECK(contains(checked.output, "b.key"));
    CHECK(contains(checked.output, "does not match"));
    std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace lbd::test

namespace lbd::test {
namespace {

// Reads the greeting ("NAME\n") of the server a new connection reaches.
std::string reached(uint16_t port) {
    UniqueFd fd = connect_tcp(port, kIoTimeoutMs);
    if (!fd) return "";
    return recv_line(fd.get(), kIoTimeoutMs).value_or("");
}

TEST_CASE("lbctl server add and remove change the pool at once; removal spares open connections") {
    NamedServer a("a"), b("b");
    AdminLbd lbd(server_entry("a", a.port()), "workers: 1");
    INFO(lbd.log());
    REQUIRE(lbd.ok());

    Run added = lbd.ctl({"server", "add", "p", "b", "127.0.0.1:" + std::to_string(b.port()), "--weight", "3"});
    CHECK(added.exit_code == 0);
    CHECK(contains(added.output, "p/b"));
    // Weight 3 against 1: b takes 3 of every 4 new connections (smooth round robin).
    int to_b = 0;
    for (int i = 0; i < 8; ++i) to_b += reached(lbd.port()) == "b\n";
    CHECK(to_b == 6);

    UniqueFd held = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(held);
    std::string held_server = recv_line(held.get(), kIoTimeoutMs).value_or("");
    REQUIRE(held_server == "b\n");  // the 9th pick of the sequence above
    CHECK(lbd.ctl({"server", "remove", "p/b"}).exit_code == 0);
    for (int i = 0; i < 4; ++i) CHECK(reached(lbd.port()) == "a\n");
    CHECK(echoes(held.get(), "still connected to the removed server"));

    // Refusals: duplicate name, bad address, unknown server.
    CHECK(lbd.ctl({"server", "add", "p", "a", "127.0.0.1:1"}).exit_code == 1);
    CHECK(lbd.ctl({"server", "add", "p", "c", "nowhere"}).exit_code == 1);
    // The config's name rule: ASCII letters and digits only, whatever the locale.
    Run bad_name = lbd.ctl({"server", "add", "p", "c\xc3\xa9", "127.0.0.1:1"});
    CHECK(bad_name.exit_code == 1);
    CHECK(bad_name.output.find("only letters, digits") != std::string::npos);
    CHECK(lbd.ctl({"server", "remove", "p/zzz"}).exit_code == 1);
    CHECK(lbd.ctl({"servers", "--json"}).exit_code == 0);
}

TEST_CASE("lbctl reload applies a valid file and prints the errors of an invalid one") {
    NamedServer a("a"), b("b");
    AdminLbd lbd(server_entry("a", a.port()));
    INFO(lbd.log());
    REQUIRE(lbd.ok());
    std::string original;
    {
        std::ifstream in(lbd.config_path());
        original.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::string with_b = original;
    size_t at = with_b.find("servers {");
    REQUIRE(at != std::string::npos);
    with_b.insert(at, server_entry("b", b.port()) + "\n");
    std::ofstream(lbd.config_path(), std::ios::trunc) << with_b;

    Run applied = lbd.ctl({"reload"});
    CHECK(applied.exit_code == 0);
    CHECK(contains(applied.output, "reload applied: config sha256 "));
    const std::string sha = applied.output.substr(applied.output.find("sha256 ") + 7, 64);
    Run servers = lbd.ctl({"servers"});
    CHECK(contains(servers.output, "p/b"));

    std::ofstream(lbd.config_path(), std::ios::trunc) << with_b << "pools { name: \"p2\" }\n";
    Run rejected = lbd.ctl({"reload"});
    CHECK(rejected.exit_code == 1);
    CHECK(contains(rejected.output, lbd.config_path() + ":"));
    CHECK(contains(rejected.output, "has no servers"));
    // The README's promise: the errors and the SHA-256 of the config still running.
    CHECK(contains(rejected.output, "goes on with the config it had (sha256 " + sha + ")"));
    Run json = lbd.ctl({"--json", "reload"});
    CHECK(json.exit_code == 1);
    auto reply = parse_json<v1::ReloadReply>(json.output);
    REQUIRE(reply);
    CHECK_FALSE(reply->applied());
    CHECK(reply->errors_size() >= 1);
    // Still serving the config it had.
    CHECK(contains(lbd.ctl({"servers"}).output, "p/b"));

    // The admin plane changes only with a restart: the reload says so, and a file changed back
    // to what runs needs nothing (compared with what runs, not with the last file).
    std::string with_token = with_b;
    const size_t socket_at = with_token.find("socket_path:");
    REQUIRE(socket_at != std::string::npos);
    with_token.insert(socket_at, "http_token: \"0123456789abcdef0123\" ");
    std::ofstream(lbd.config_path(), std::ios::trunc) << with_token;
    Run noted = lbd.ctl({"reload"});
    CHECK(noted.exit_code == 0);
    CHECK(contains(noted.output, "the change of 'admin' takes effect only after a restart"));
    std::ofstream(lbd.config_path(), std::ios::trunc) << with_b;
    Run back = lbd.ctl({"reload"});
    CHECK(back.exit_code == 0);
    CHECK_FALSE(contains(back.output, "takes effect only after a restart"));
}

}  // namespace
}  // namespace lbd::test
