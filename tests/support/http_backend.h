// An in-process HTTP/1.1 server for the L7 scenarios, and a raw HTTP client to talk to lbd.
//
// HttpBackend runs one thread per connection with blocking sockets (a test has a handful of
// connections; the code stays short). What it answers depends on the request path:
//   /hang        reads the request and never answers (504 tests)
//   /malformed   answers with a broken status line (502 tests)
//   /stall       sends a head and 10 of 100 body bytes, then nothing (body idle tests)
//   /die         resets the connection instead of answering (a server dying mid-request)
//   /chunked     answers with a chunked body, in chunks of 7 bytes
//   /login       as below, plus "Set-Cookie: JSESSIONID=NAME-N; Path=/" (N: the request count)
//   /bytes/N     answers with a body of N bytes of 'x' (large downloads)
//   /ws          with "Upgrade: websocket": the RFC 6455 handshake, then echoes frames (any length)
//   a path given to answer() (or any path, with "*"): that status and body, set at run time
//   anything else: 200 with "server=NAME\n", the request head as received, and "body_bytes=N\n"
// Every response carries "Server: test-backend" and "X-Powered-By: test"; a request with
// "Connection: close" gets its answer and then the close. Request bodies
// (Content-Length or chunked) are read and counted, never kept, so a 100 MB upload costs nothing.
//
// Threads: public methods may be called from any thread; the counters are atomic and the
// recorded heads are under a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event.h"

namespace lbd::test {

class HttpBackend {
public:
    explicit HttpBackend(std::string name);
    // On `ip` (any 127.0.0.0/8 address works on Linux loopback) and `port` (0 = any): two backends on
    // one port and two addresses, for a server name that moves from one address to the other.
    HttpBackend(std::string name, const char* ip, uint16_t port);
    ~HttpBackend();
    HttpBackend(const HttpBackend&) = delete;
    HttpBackend& operator=(const HttpBackend&) = delete;

    const std::string& name() const { return name_; }
    uint16_t port() const { return port_; }
    // TCP connections accepted, requests answered (or started).
    size_t connections() const { return connections_.load(); }
    size_t requests() const { return requests_.load(); }
    // Connections whose serving ended: closed by the client, or by the backend after an answer.
    size_t ended() const { return ended_.load(); }
    // Every request head received, in order.
    std::vector<std::string> heads() const;
    // The trailer section of every chunked request that had one ("Name: value\r\n" lines), in order.
    std::vector<std::string> trailers() const;
    // Closes the listener and every connection (the port then refuses).
    void stop();
    // From now on, requests for `path` ("*" = every path without its own answer) get
    // `status` with `body` (and `headers`, whole "Name: value\r\n" lines). forget() returns a path to
    // its built-in answer.
    void answer(const std::string& path, int status, const std::string& body = "", const std::string& headers = "");
    void forget(const std::string& path);

private:
    void accept_loop();
    void serve(int fd);

    std::string name_;
    UniqueFd listen_fd_;
    uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> connections_{0};
    std::atomic<size_t> requests_{0};
    std::atomic<size_t> ended_{0};
    mutable std::mutex mu_;
    std::vector<std::string> heads_;      // under mu_
    std::vector<std::string> trailers_;   // under mu_
    struct Canned {
        int status;
        std::string body;
        std::string headers;
    };
    std::map<std::string, Canned> canned_;  // under mu_
    std::vector<int> open_fds_;           // under mu_
    std::vector<std::thread> conn_threads_;  // under mu_
    std::thread acceptor_;
};

// A response read by the raw client.
struct HttpReply {
    int status = 0;
    std::string head;  // status line and fields, CRLFs included
    std::string body;  // de-chunked
    bool closed = false;  // the connection was closed after it

    // A field's value (first line, case-insensitive name), or "".
    std::string header(const std::string& name) const;
};

// Reads one response from `fd` (Content-Length, chunked, or until close). nullopt on timeout,
// or when the connection ended before a whole head. `head_request`: the response has no body.
std::optional<HttpReply> read_http_reply(int fd, int timeout_ms, bool head_request = false);

// Connects to 127.0.0.1:port, sends `request`, reads one reply.
std::optional<HttpReply> http_request(uint16_t port, const std::string& request, int timeout_ms);

// "GET path HTTP/1.1\r\nHost: host\r\n" + extra + "\r\n".
std::string get_request(const std::string& path, const std::string& host = "example.com",
                        const std::string& extra = "");

// lbd's resident memory (VmRSS in /proc/PID/status), in KiB; 0 if unreadable.
size_t rss_kib(int pid);

}  // namespace lbd::test
