// Limits of the admin HTTP listener (global.admin.http_bind), on the control
// loop. evhttp sets none by default: one POST announcing a 1 GB body made it
// buffer 1 GB, an endless header line grew memory and kept the loop busy,
// idle connections held descriptors the data plane needed, and an accept
// failing with EMFILE was retried (and logged) in a tight loop.
//
//   - request head at most kMaxHeaderBytes, body at most kMaxBodyBytes
//     (the status page's POSTs carry none): evhttp answers 413 or closes;
//   - each request must have arrived within kRequestDeadlineMs of the
//     connection's start or of its previous request, else the connection is
//     shut down (a slow-loris header, and an idle keep-alive, both end);
//   - at most kMaxConnections open at once: at the cap the listening socket
//     is left alone and new connections wait in the kernel's accept queue,
//     so this listener never holds more than kMaxConnections + 1
//     descriptors, whatever clients do (the descriptor budget README.md
//     describes);
//   - accept failing with EMFILE/ENFILE/ENOBUFS/ENOMEM pauses the listener
//     kAcceptPauseMs, as the data plane's listeners do, with one log line per
//     kLogEveryMs at most.
//
// Connections are counted through evhttp's bufferevent hook: we make each
// connection's bufferevent and keep a reference to it. libevent 2.1 tells
// nothing about a connection that closes without a request, so a sweep every
// kSweepMs looks for the ones evhttp has let go (bufferevent_free cleared
// their callbacks; its shutdown(SHUT_WR) has already sent the client its
// FIN) and drops our reference, which closes the descriptor.
#pragma once

#include <event2/util.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/loop/event.h"

struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evconnlistener;
struct bufferevent;

namespace lbd {

class AdminHttpLimits {
public:
    // Prometheus scrapes and a few browsers; a request head with big cookies fits.
    static constexpr size_t kMaxConnections = 32;
    static constexpr long kMaxHeaderBytes = 16 * 1024;
    static constexpr long kMaxBodyBytes = 4 * 1024;
    // Prometheus and browsers send the request as soon as they connect.
    static constexpr uint32_t kRequestDeadlineMs = 5000;
    static constexpr uint32_t kAcceptPauseMs = 200;
    static constexpr uint32_t kLogEveryMs = 10000;
    static constexpr uint32_t kSweepMs = 100;

    explicit AdminHttpLimits(event_base* base);
    ~AdminHttpLimits();
    AdminHttpLimits(const AdminHttpLimits&) = delete;
    AdminHttpLimits& operator=(const AdminHttpLimits&) = delete;

    // Before binding: sizes, timeouts and the per-connection hook.
    void apply(evhttp* http);
    // After binding: the cap and the accept back-off on evhttp's listener.
    void watch(evhttp_bound_socket* handle);
    // A complete request arrived: its connection gets a new deadline.
    void request_arrived(evhttp_request* request);

private:
    struct Connection;
    static bufferevent* new_connection(event_base* base, void* arg);
    static void on_deadline(evutil_socket_t, short, void* arg);
    // Drops the connections evhttp has freed.
    void sweep();
    static void on_accept_error(evconnlistener* listener, void* arg);
    void update_listener();

    event_base* base_;
    evconnlistener* listener_ = nullptr;  // evhttp's, owned by it
    bool listening_ = true;
    bool paused_ = false;
    EventPtr resume_timer_;
    EventPtr sweep_timer_;
    uint64_t last_log_ms_ = 0;
    uint64_t unlogged_pauses_ = 0;
    std::unordered_map<bufferevent*, std::unique_ptr<Connection>> connections_;
};

}  // namespace lbd
