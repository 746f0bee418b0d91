// In-process test backends on 127.0.0.1:0, each with its own thread running a poll(2) loop.
//
// One Backend class does the socket work; what it does with a connection is set by
// BackendOptions, and the small named classes below (EchoServer, NamedServer, SourceServer,
// RecordingServer) just pick options. There are no virtual hooks, so no callback can run on a
// half-destroyed derived object while the loop thread is stopping.
//
// Threads: every public method may be called from any test thread. The loop thread owns the
// sockets; the counters and recordings it shares with callers are under one mutex, and waiters
// are woken through a condition variable.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event.h"

namespace lbd::test {

struct BackendOptions {
    // Written to each connection as soon as it is accepted.
    std::string greeting;
    // Write every received byte back. On the client's EOF, finish writing, then shutdown(SHUT_WR).
    bool echo = true;
    // Written after the greeting, followed by shutdown(SHUT_WR) (a download). Shared, not copied,
    // so many connections can stream one 64 MiB buffer.
    std::shared_ptr<const std::string> source;
    // Keep the first `record_limit` bytes received on each connection (0 = record nothing).
    size_t record_limit = 0;
};

class Backend {
public:
    explicit Backend(BackendOptions options);
    ~Backend();
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    // The listening port; 0 if the socket could not be created (check before use).
    uint16_t port() const { return port_; }

    // Connections accepted so far (health checks included).
    size_t accepted() const;
    // Connections currently open on the backend side.
    size_t open_connections() const;
    // Waits until at least `n` connections were accepted. False at the deadline.
    bool wait_for_accepted(size_t n, int timeout_ms) const;
    // Waits until connection number `index` (0-based, in accept order) has recorded bytes that
    // contain `needle`, and returns all it recorded; nullopt at the deadline.
    std::optional<std::string> wait_for_recorded(size_t index, const std::string& needle, int timeout_ms) const;
    // Everything recorded, one entry per accepted connection.
    std::vector<std::string> recorded() const;

    // Graceful stop: close the listener and every connection with FIN. Idempotent.
    void stop();
    // Abrupt death: close the listener and reset every open connection (SO_LINGER 0 makes close
    // send RST), like a backend process that crashed. New connects are refused. Idempotent.
    void kill();

private:
    struct Connection;
    enum class Command { kNone, kStop, kKill };

    void run();
    void accept_new();
    // Each returns false when the connection is finished and must be closed.
    bool on_readable(Connection& c);
    bool on_writable(Connection& c);
    void halt(Command how);

    BackendOptions options_;
    UniqueFd listen_fd_;
    UniqueFd wake_fd_;  // eventfd: stop()/kill() wake the poll loop with it
    uint16_t port_ = 0;
    std::vector<std::unique_ptr<Connection>> connections_;  // loop thread only

    mutable std::mutex mu_;
    mutable std::condition_variable changed_;
    Command command_ = Command::kNone;  // under mu_
    size_t accepted_ = 0;               // under mu_
    size_t open_ = 0;                   // under mu_
    std::vector<std::string> recorded_;  // under mu_, by accept index

    std::thread thread_;
};

// Echoes everything; half-close aware (see BackendOptions::echo).
class EchoServer : public Backend {
public:
    EchoServer();
};

// Writes "NAME\n" on accept, then echoes, so a client knows which server it reached.
class NamedServer : public Backend {
public:
    explicit NamedServer(std::string name);
    const std::string& name() const { return name_; }

private:
    std::string name_;
};

// Sends `payload` on accept, then half-closes; reads and discards what the client sends.
class SourceServer : public Backend {
public:
    explicit SourceServer(std::shared_ptr<const std::string> payload);
};

// Records the first `limit` bytes of each connection and sends nothing (e.g. to see the PROXY
// header lbd writes before the client's bytes).
class RecordingServer : public Backend {
public:
    explicit RecordingServer(size_t limit = 4096);
};

}  // namespace lbd::test
