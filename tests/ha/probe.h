// The pieces of lbd_ha_probe (ha_probe.cc has the commands and what each
// prints): one TCP exchange with a backend through lbd (probe_net.cc), the
// backend itself (probe_net.cc), the polling and stick clients
// (probe_clients.cc) and the JSON reader the scripts use instead of jq
// (probe_json.cc).
#pragma once

#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace probe {

using Clock = std::chrono::steady_clock;

inline int64_t ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Owns one file descriptor.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = other.fd_;
            other.fd_ = -1;
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

std::optional<sockaddr_in> parse_ipv4(const std::string& ip, uint16_t port);
// "10.77.0.10:81" -> sockaddr. IPv4 only: the lab and the namespaces are IPv4.
std::optional<sockaddr_in> parse_endpoint(const std::string& text);
std::string ip_of(const sockaddr_in& sa);

struct Answer {
    bool ok = false;
    std::string server;  // backend name
    std::string via;     // the lbd node's address, as the backend saw it
    std::string error;   // when !ok: timeout, refused, reset, unreachable, empty, bind, ...
};

// Connects (from `source` if set), reads the answer to EOF, all within timeout_ms.
Answer exchange(const sockaddr_in& target, const std::optional<sockaddr_in>& source, int timeout_ms);

struct PollOptions {
    std::string target;
    int interval_ms = 20;
    int timeout_ms = 200;
    std::string source;
    std::string until_file;
    int64_t duration_ms = 0;
    int64_t count = 0;
    std::string log_file;
    bool overlap = false;
};

// The subcommands (see ha_probe.cc); each returns the process's exit code.
int serve(const std::string& name, uint16_t port, const std::string& bind_ip);
int poll_target(const PollOptions& o);
int stick(const std::string& sources, const std::string& target_text, int timeout_ms);
int json_get(const std::vector<std::string>& paths);

}  // namespace probe
