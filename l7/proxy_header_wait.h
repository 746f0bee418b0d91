// Connections of HTTP listeners with accept_proxy, before their session: the
// PROXY header (v1 or v2) a load balancer in front sends first is read here,
// and the session starts with the client address it carries.
//
// Why before the session rather than inside it: the header comes before any
// HTTP byte and, on a TLS listener, before the ClientHello. Reading it while
// the connection is only a socket and one event keeps the session, its
// bufferevent and the TLS stream unaware of it; the bytes after the header
// stay in the socket (core/net/proxy_socket.h), and the session reads them as
// if it had been accepted with the client's own address. That address is
// then the session's ClientEndpoint peer: forwarding headers, rate limits,
// stickiness, access control and the access log see the client, not the
// balancer.
//
// A connection from a source not in trusted_sources is closed at once; a
// malformed header, a close before a whole one, or none within
// header_timeout_ms closes it too. Each is counted per listener
// (HttpListenerStats::proxy_*, lbd_http_proxy_header_failures_total), not
// logged per connection above debug: nothing was requested.
//
// Worker thread only.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <list>
#include <memory>

#include "core/loop/event.h"
#include "core/net/address.h"

namespace lbd::l7 {

class HttpListener;
class L7Worker;

class ProxyHeaderWaits {
public:
    explicit ProxyHeaderWaits(L7Worker& worker) : worker_(worker) {}
    ~ProxyHeaderWaits() { close_all(); }
    ProxyHeaderWaits(const ProxyHeaderWaits&) = delete;
    ProxyHeaderWaits& operator=(const ProxyHeaderWaits&) = delete;

    // A connection accepted on `listener` (accept_proxy enabled; counted in
    // its active connections): checks its source, then waits for its header
    // and starts its session (L7Worker::start_session).
    void accept(std::shared_ptr<HttpListener> listener, UniqueFd fd, const SocketAddress& peer);
    // Shutdown: close the connections still waiting (nothing was requested).
    void close_all();

private:
    struct Waiting {
        ProxyHeaderWaits* owner = nullptr;
        std::shared_ptr<HttpListener> listener;
        UniqueFd fd;
        SocketAddress peer;
        uint64_t deadline_ms = 0;
        EventPtr event;  // one-shot: readable, or the deadline
        std::list<std::unique_ptr<Waiting>>::iterator self;
    };
    enum class Failure { kUntrusted, kInvalid, kTimeout };

    static void on_event(evutil_socket_t fd, short what, void* arg);
    void try_read(Waiting& waiting);
    void fail(Waiting& waiting, Failure why, const char* detail);
    // Ends the wait: its event and entry go (also from inside its callback:
    // the event is one-shot, not pending).
    void erase(Waiting& waiting) { waiting_.erase(waiting.self); }

    L7Worker& worker_;
    std::list<std::unique_ptr<Waiting>> waiting_;
};

}  // namespace lbd::l7
