// Socket helpers for scenario tests: blocking calls with a deadline.
//
// Every helper gives up at its deadline instead of blocking: a hung lbd must fail a test, not hang
// the suite. Waiting is done with poll(2), never by sleeping, so a test is as fast as the daemon.
// All sockets are IPv4 loopback and close-on-exec (a socket inherited by an lbd, nginx or haproxy
// child would keep a port open after the test closed it).
//
// Thread safety: the functions share no state; one fd must not be used from two threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/loop/event.h"

namespace lbd::test {

// A point in time `timeout_ms` from now, on the monotonic clock.
class Deadline {
public:
    explicit Deadline(int timeout_ms);
    // Milliseconds left, never negative: suitable as a poll(2) timeout.
    int remaining_ms() const;
    bool expired() const { return remaining_ms() == 0; }

private:
    uint64_t end_ms_;
};

// Connects to 127.0.0.1:port. Returns an empty fd on refusal or at the deadline.
UniqueFd connect_tcp(uint16_t port, int timeout_ms);

// Connects to 127.0.0.1:port from `source_ip` (any 127.0.0.0/8 address works on Linux
// loopback), so one test can play several clients. Empty fd on failure or at the deadline.
UniqueFd connect_from(const std::string& source_ip, uint16_t port, int timeout_ms);

// A listening socket on 127.0.0.1:port (0 = kernel's choice). Empty fd on failure.
UniqueFd listen_tcp(uint16_t port = 0, int backlog = 128);
// As listen_tcp, on the IPv4 address `ip` (e.g. "127.0.0.2").
UniqueFd listen_tcp_on(const char* ip, uint16_t port, int backlog = 128);

// The local / remote port of a connected or bound socket (0 on error).
uint16_t local_port(int fd);
uint16_t peer_port(int fd);

// A port that was free a moment ago: bind 127.0.0.1:0, read the port, close. Racy by nature
// (another process may take it before our child binds it); callers that hand it to an external
// program (nginx, haproxy) detect a failed start and retry once with a new port.
uint16_t pick_free_port();

// Writes all of `data`. False on error (e.g. reset) or at the deadline.
bool send_all(int fd, std::string_view data, int timeout_ms);

// Half-closes: the peer reads EOF, we can still read.
bool shutdown_write(int fd);

// How a read loop ended.
enum class StreamEnd {
    kEof,      // orderly close (FIN) from the peer
    kReset,    // ECONNRESET / EPIPE or another socket error
    kTimeout,  // deadline reached, connection still open
    kLimit,    // read as many bytes as asked
};
const char* to_string(StreamEnd end);

struct RecvResult {
    std::string data;
    StreamEnd end = StreamEnd::kTimeout;
};

// Reads exactly `n` bytes; nullopt if the stream ends or the deadline passes first.
std::optional<std::string> recv_exact(int fd, size_t n, int timeout_ms);

// Reads up to and including the first '\n' (one byte at a time, so nothing after the line is
// consumed). nullopt if the stream ends or the deadline passes first.
std::optional<std::string> recv_line(int fd, int timeout_ms, size_t max_len = 4096);

// Reads until EOF, reset, the deadline, or `limit` bytes.
RecvResult recv_until_eof(int fd, int timeout_ms, size_t limit = 1 << 20);

// 64-bit FNV-1a, streaming: enough to tell two byte streams apart in a test, no OpenSSL needed.
class Fnv1a64 {
public:
    void update(std::string_view bytes);
    uint64_t value() const { return hash_; }

private:
    uint64_t hash_ = 0xcbf29ce484222325ULL;  // FNV offset basis
};
uint64_t fnv1a64(std::string_view bytes);

// `n` pseudo-random bytes (splitmix64), the same for the same seed.
std::string random_payload(size_t n, uint64_t seed);

// What an exchange() moved, and how the stream ended.
struct ExchangeResult {
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    uint64_t received_hash = Fnv1a64().value();  // FNV-1a of everything received
    StreamEnd end = StreamEnd::kTimeout;
    bool send_failed = false;  // an error, or the peer closed before all of the payload was sent
};

// Sends `payload` while reading whatever comes back, half-closes after the last byte, and reads
// until EOF. Both directions run in one poll loop because an echoing peer would otherwise fill
// both socket buffers and deadlock a send-then-receive test. Received bytes are hashed, not kept,
// so a 64 MiB transfer costs no memory.
ExchangeResult exchange(int fd, std::string_view payload, int timeout_ms);

}  // namespace lbd::test
