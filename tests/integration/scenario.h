// Shared pieces of the L4 scenario tests: config text builders and a few checks that read
// better as one call. Each scenario starts its own lbd and backends, so tests stay independent.
#pragma once

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "tests/support/backends.h"
#include "tests/support/lbd_process.h"
#include "tests/support/net.h"

namespace lbd::test {

// Generous bound for one network step on loopback (a connect, an echo, a log line): a healthy
// run takes milliseconds; the margin is for sanitizer builds on a loaded machine.
constexpr int kIoTimeoutMs = 3000;

// Polls `done` every few ms until it holds or `timeout_ms` pass; whether it held. For state lbd
// only shows from outside (a gauge, a backend's counters), where no event says "now".
inline bool poll_until(const std::function<bool()>& done, int timeout_ms = kIoTimeoutMs) {
    Deadline deadline(timeout_ms);
    for (;;) {
        if (done()) return true;
        if (deadline.expired()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// `servers { name: "a" address: "127.0.0.1:5001" }`
inline std::string server_entry(const std::string& name, uint16_t port) {
    return "  servers { name: \"" + name + "\" address: \"127.0.0.1:" + std::to_string(port) + "\" }\n";
}

// Fast active checks, so a dead server is DOWN within a few hundred ms.
inline std::string fast_health_check() {
    return "  health_check { interval_ms: 100 timeout_ms: 100 rise: 1 fall: 1 }\n";
}

// One listener "front" on 127.0.0.1:0 forwarding to pool "p". `pool_body` holds the servers and
// any pool options; `listener_extra` goes inside the listener block (a field given twice is a
// config error, so the base sets only what every scenario needs). One field per line, so a
// config error's line number points at something meaningful.
inline std::string pool_config(const std::string& balance, const std::string& pool_body,
                               const std::string& listener_extra = "",
                               const std::string& global = "workers: 2 drain_timeout_ms: 2000") {
    return "global { " + global + " }\n"
           "listeners {\n"
           "  name: \"front\"\n"
           "  bind: \"127.0.0.1:0\"\n"
           "  pool: \"p\"\n" +
           listener_extra +
           "}\n"
           "pools {\n"
           "  name: \"p\"\n"
           "  balance: \"" + balance + "\"\n"
           "  connect_timeout_ms: 1000\n" +
           pool_body + "}\n";
}

// The same with round robin, which most scenarios use.
inline std::string single_pool_config(const std::string& pool_body, const std::string& listener_extra = "",
                                      const std::string& global = "workers: 2 drain_timeout_ms: 2000") {
    return pool_config("round_robin", pool_body, listener_extra, global);
}

// A log line's field, or "<missing>" (which no check expects), for readable CHECK messages.
inline std::string field(const std::string& line, const std::string& key) {
    return log_field(line, key).value_or("<missing>");
}

// Matches the l4 line of the connection whose client side is 127.0.0.1:client_port.
inline LinePattern l4_line_of(uint16_t client_port) {
    return LinePattern(" l4 listener=front client=127.0.0.1:" + std::to_string(client_port) + " ");
}

// Starts lbd with `config` and waits until it is ready; the listener "front"'s port is in port().
class RunningLbd {
public:
    explicit RunningLbd(const std::string& config) : lbd_(config) {
        ready_ = lbd_.wait_ready();
        if (ready_) port_ = lbd_.listener_port("front");
    }
    bool ok() const { return ready_ && port_ != 0; }
    uint16_t port() const { return port_; }
    LbdProcess* operator->() { return &lbd_; }

private:
    LbdProcess lbd_;
    bool ready_ = false;
    uint16_t port_ = 0;
};

// The port of `admin http listening on 127.0.0.1:PORT`; 0 if no such line came.
inline uint16_t admin_port(RunningLbd& lbd) {
    std::optional<std::string> line = lbd->await_line("admin http listening on 127.0.0.1:", kIoTimeoutMs);
    if (!line) return 0;
    std::string_view text = *line;
    text.remove_prefix(text.rfind(':') + 1);
    uint16_t port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    return ec == std::errc() && end == text.data() + text.size() ? port : 0;
}

// Rewrites lbd's config file and asks it to reload (SIGHUP); true when lbd
// logs the expected verdict ("reload applied" / "reload rejected") for the
// nth time.
inline bool reload_lbd(RunningLbd& lbd, const std::string& config, const char* verdict, size_t nth) {
    std::ofstream(lbd->config_path(), std::ios::trunc) << config;
    return lbd->send_signal(SIGHUP) && lbd->await_count(verdict, nth, kIoTimeoutMs);
}

// Sends `message` and expects it echoed back whole.
inline bool echoes(int fd, const std::string& message) {
    return send_all(fd, message, kIoTimeoutMs) && recv_exact(fd, message.size(), kIoTimeoutMs) == message;
}

}  // namespace lbd::test
