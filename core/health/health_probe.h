// Active health check strategies: one small interface, registered by name
// (as balancers are). The HealthChecker (health_checker.h) owns the timers,
// the timeout and rise/fall; a Probe only performs one check of one server.
//
// Built in: "tcp" (a connect succeeds) and "http" (an HTTP/1.1 request gets
// an expected status and body; probe_http.cc). Probes run on the control
// thread's event loop and never block it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/address.h"
#include "core/config/config.h"
#include "core/loop/event.h"
#include "core/net/local_errors.h"

namespace lbd {

class Probe {
public:
    // The outcome of one check. `why` is short and goes into the log line of
    // a state change: "HTTP 500", "body lacks 'ok'", "Connection refused".
    using Done = std::function<void(bool ok, std::string_view why)>;

    virtual ~Probe() = default;
    // Starts one check of `address`. `done` is called exactly once, from the
    // loop or before start() returns, unless the probe is destroyed first
    // (that is how the checker enforces its timeout: destroying a probe
    // closes its socket). A probe is used for one check only.
    virtual void start(const SocketAddress& address, Done done) = 0;
    // Set when the check failed for lack of lbd's own resources (no
    // descriptor, no memory, no local port): the server was never asked, so
    // the checker keeps its state (core/net/local_errors.h).
    virtual std::optional<LocalCause> local_failure() const { return std::nullopt; }
};

using ProbeFactory = std::unique_ptr<Probe> (*)(event_base* base, const HealthCheckConfig& config);

// Name -> factory. Filled once at start-up by register_builtin_probes();
// read-only afterwards, so lookups need no lock.
class ProbeRegistry {
public:
    static void add(std::string name, ProbeFactory factory);
    // nullptr for an unknown name (the loader only produces known ones).
    static std::unique_ptr<Probe> create(std::string_view name, event_base* base, const HealthCheckConfig& config);
};

// Registers "tcp" and "http". Idempotent.
void register_builtin_probes();
void register_tcp_probe();
void register_http_probe();

// The non-blocking connect both built-in probes start with. Owns the socket;
// closing it resets the connection (a probe has nothing to say, and a
// FIN/TIME_WAIT per probe would pile up on the checker's side).
class ProbeSocket {
public:
    ~ProbeSocket() { close(); }
    // Starts connecting; `on_connected(ok, why)` is called from the loop, or
    // before connect() returns when the outcome is known at once.
    void connect(event_base* base, const SocketAddress& address, std::function<void(bool, const char*)> on_connected);
    int fd() const { return fd_.get(); }
    void close();
    // Why the connect failed, when it was lbd's shortage and not the server.
    std::optional<LocalCause> local_failure() const { return local_failure_; }

private:
    static void on_writable(evutil_socket_t fd, short what, void* arg);

    UniqueFd fd_;
    EventPtr event_;
    std::optional<LocalCause> local_failure_;
    std::function<void(bool, const char*)> on_connected_;
};

}  // namespace lbd
