#include "tests/support/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace lbd::test {
namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

// Polls `fd` for `events` until the deadline. Returns the revents, 0 at the deadline.
short wait_for(int fd, short events, const Deadline& deadline) {
    pollfd p{fd, events, 0};
    for (;;) {
        int rc = ::poll(&p, 1, deadline.remaining_ms());
        if (rc > 0) return p.revents;
        if (rc == 0) return 0;
        if (errno != EINTR) return POLLERR;
    }
}

uint16_t port_of(int fd, bool peer) {
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len)
                  : ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    return rc == 0 ? ntohs(sa.sin_port) : 0;
}

// Result of one non-blocking recv: > 0 bytes read, or one of these.
constexpr ssize_t kEofRead = 0;
constexpr ssize_t kWouldBlock = -1;
constexpr ssize_t kResetRead = -2;

ssize_t recv_some(int fd, char* buf, size_t len) {
    for (;;) {
        ssize_t n = ::recv(fd, buf, len, MSG_DONTWAIT);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return kWouldBlock;
        return kResetRead;
    }
}

// Waits until `fd` is readable (or closed). False at the deadline.
bool wait_readable(int fd, const Deadline& deadline) { return wait_for(fd, POLLIN, deadline) != 0; }

}  // namespace

Deadline::Deadline(int timeout_ms)
    : end_ms_(monotonic_ms() + static_cast<uint64_t>(std::max(timeout_ms, 0))) {}

int Deadline::remaining_ms() const {
    uint64_t now = monotonic_ms();
    return now >= end_ms_ ? 0 : static_cast<int>(end_ms_ - now);
}

UniqueFd connect_tcp(uint16_t port, int timeout_ms) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return {};
    sockaddr_in sa = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        if (errno != EINPROGRESS) return {};
        if (wait_for(fd.get(), POLLOUT, Deadline(timeout_ms)) == 0) return {};
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return {};
    }
    // Back to blocking, so a test that uses the raw fd gets ordinary semantics; the helpers here
    // pass MSG_DONTWAIT and poll on their own.
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return {};
    return fd;
}

UniqueFd listen_tcp(uint16_t port, int backlog) { return listen_tcp_on("127.0.0.1", port, backlog); }

UniqueFd listen_tcp_on(const char* ip, uint16_t port, int backlog) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return {};
    sockaddr_in sa = loopback(port);
    if (::inet_pton(AF_INET, ip, &sa.sin_addr) != 1) return {};
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return {};
    if (::listen(fd.get(), backlog) != 0) return {};
    return fd;
}

uint16_t local_port(int fd) { return port_of(fd, false); }
uint16_t peer_port(int fd) { return port_of(fd, true); }

uint16_t pick_free_port() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return 0;
    sockaddr_in sa = loopback(0);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return 0;
    return local_port(fd.get());
}

bool send_all(int fd, std::string_view data, int timeout_ms) {
    Deadline deadline(timeout_ms);
    while (!data.empty()) {
        // MSG_NOSIGNAL: a peer that reset must fail the send, not kill the test with SIGPIPE.
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
        short ev = wait_for(fd, POLLOUT, deadline);
        if (ev == 0 || (ev & POLLERR)) return false;
    }
    return true;
}

bool shutdown_write(int fd) { return ::shutdown(fd, SHUT_WR) == 0; }

const char* to_string(StreamEnd end) {
    switch (end) {
        case StreamEnd::kEof: return "eof";
        case StreamEnd::kReset: return "reset";
        case StreamEnd::kTimeout: return "timeout";
        case StreamEnd::kLimit: return "limit";
    }
    return "?";
}

std::optional<std::string> recv_exact(int fd, size_t n, int timeout_ms) {
    RecvResult r = recv_until_eof(fd, timeout_ms, n);
    if (r.end != StreamEnd::kLimit) return std::nullopt;
    return std::move(r.data);
}

std::optional<std::string> recv_line(int fd, int timeout_ms, size_t max_len) {
    Deadline deadline(timeout_ms);
    std::string line;
    while (line.size() < max_len) {
        char c = 0;
        ssize_t n = recv_some(fd, &c, 1);
        if (n == kWouldBlock) {
            if (!wait_readable(fd, deadline)) return std::nullopt;
            continue;
        }
        if (n <= 0) return std::nullopt;  // EOF or reset before the end of the line
        line.push_back(c);
        if (c == '\n') return line;
    }
    return std::nullopt;
}

RecvResult recv_until_eof(int fd, int timeout_ms, size_t limit) {
    Deadline deadline(timeout_ms);
    RecvResult result;
    char buf[65536];
    while (result.data.size() < limit) {
        size_t want = std::min(sizeof buf, limit - result.data.size());
        ssize_t n = recv_some(fd, buf, want);
        if (n > 0) {
            result.data.append(buf, static_cast<size_t>(n));
        } else if (n == kEofRead) {
            result.end = StreamEnd::kEof;
            return result;
        } else if (n == kResetRead) {
            result.end = StreamEnd::kReset;
            return result;
        } else if (!wait_readable(fd, deadline)) {
            result.end = StreamEnd::kTimeout;
            return result;
        }
    }
    result.end = StreamEnd::kLimit;
    return result;
}

void Fnv1a64::update(std::string_view bytes) {
    uint64_t h = hash_;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ULL;  // FNV prime
    }
    hash_ = h;
}

uint64_t fnv1a64(std::string_view bytes) {
    Fnv1a64 h;
    h.update(bytes);
    return h.value();
}

std::string random_payload(size_t n, uint64_t seed) {
    std::string out(n, '\0');
    uint64_t state = seed;
    for (size_t i = 0; i < n; i += 8) {
        // splitmix64: fast, and every byte value shows up, so a proxy that mangles any byte
        // (a NUL, a CR) changes the hash.
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(z >> (8 * j));
    }
    return out;
}

ExchangeResult exchange(int fd, std::string_view payload, int timeout_ms) {
    Deadline deadline(timeout_ms);
    ExchangeResult result;
    Fnv1a64 hash;
    bool write_done = false;
    if (payload.empty()) {
        shutdown_write(fd);
        write_done = true;
    }
    char buf[65536];
    for (;;) {
        pollfd p{fd, static_cast<short>(POLLIN | (write_done ? 0 : POLLOUT)), 0};
        int rc = ::poll(&p, 1, deadline.remaining_ms());
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;  // deadline (or a poll error): end stays kTimeout
        if (!write_done && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = ::send(fd, payload.data(), std::min<size_t>(payload.size(), 1 << 20),
                               MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                payload.remove_prefix(static_cast<size_t>(n));
                result.bytes_sent += static_cast<uint64_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                result.send_failed = true;
                payload = {};
            }
            if (payload.empty()) {
                shutdown_write(fd);
                write_done = true;
            }
        }
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t n = recv_some(fd, buf, sizeof buf);
            if (n > 0) {
                hash.update(std::string_view(buf, static_cast<size_t>(n)));
                result.bytes_received += static_cast<uint64_t>(n);
            } else if (n == kEofRead || n == kResetRead) {
                result.end = n == kEofRead ? StreamEnd::kEof : StreamEnd::kReset;
                // The stream ended before we were done sending: that is a failure of the exchange.
                if (!write_done) result.send_failed = true;
                break;
            }
        }
    }
    result.received_hash = hash.value();
    return result;
}

// Connects to 127.0.0.1:port from `source_ip` (any 127.0.0.0/8 address works on Linux loopback),
// so one test can play several clients. Empty fd on failure or at the deadline.
UniqueFd connect_from(const std::string& source_ip, uint16_t port, int timeout_ms) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return {};
    sockaddr_in src{};
    src.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr) != 1) return {};
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return {};
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        if (errno != EINPROGRESS) return {};
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, timeout_ms) != 1) return {};
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return {};
    }
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return {};
    return fd;
}

}  // namespace lbd::test
