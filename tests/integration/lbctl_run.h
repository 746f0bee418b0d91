// Running lbctl from a scenario test, and reading what it printed: shared by
// the lbctl and HA scenarios. LBCTL_BINARY is the path of the lbctl built
// with the tests (tests/integration/CMakeLists.txt defines it).
#pragma once

#include <poll.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/scenario.h"

#ifndef LBCTL_BINARY
#error "LBCTL_BINARY must be defined as the path of the lbctl executable"
#endif

namespace lbd::test {

// One lbctl run: a request on loopback, so this is generous (sanitizers, a loaded machine).
constexpr int kLbctlTimeoutMs = 10000;

struct Run {
    int exit_code = -1;
    std::string output;  // stdout and stderr, merged
};

// Runs lbctl with `args` and waits for it.
inline Run lbctl(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv;
    if (!env.empty()) {
        argv.push_back("/usr/bin/env");
        argv.insert(argv.end(), env.begin(), env.end());
    }
    argv.push_back(LBCTL_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess child(argv);
    Run run;
    run.exit_code = child.wait_exit(kLbctlTimeoutMs).value_or(-1);
    if (run.exit_code == -1) child.stop(1000);
    child.await_output_end(kIoTimeoutMs);
    run.output = child.output();
    return run;
}

// Runs lbctl `args` against the admin socket at `socket_path`.
inline Run lbctl_at(const std::string& socket_path, std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", socket_path});
    return lbctl(args);
}

// Runs lbctl `args` until `done` says yes or the deadline passes; returns the last run.
inline Run lbctl_until(const std::vector<std::string>& args, const std::function<bool(const Run&)>& done,
                       int timeout_ms) {
    Deadline deadline(timeout_ms);
    for (;;) {
        Run run = lbctl(args);
        if (done(run) || deadline.expired()) return run;
        ::poll(nullptr, 0, std::min(50, deadline.remaining_ms()));
    }
}

inline bool contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

// Parses lbctl's --json output back into the reply message.
template <typename Message>
std::optional<Message> parse_json(const std::string& json) {
    Message message;
    if (!google::protobuf::util::JsonStringToMessage(json, &message).ok()) return std::nullopt;
    return message;
}

// The first line a server sends ("NAME\n"), or "<none>\n".
inline std::string greeting_of(int fd) { return recv_line(fd, kIoTimeoutMs).value_or("<none>\n"); }

// The server a client at `source_ip` reaches ("a"), or "<none>".
inline std::string visit_from(const std::string& source_ip, uint16_t port) {
    UniqueFd fd = connect_from(source_ip, port, kIoTimeoutMs);
    if (!fd) return "<none>";
    std::string greeting = greeting_of(fd.get());
    return greeting.substr(0, greeting.size() - 1);
}

}  // namespace lbd::test
