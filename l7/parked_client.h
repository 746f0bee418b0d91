// Idle keep-alive client connections without a session ("parked").
//
// Why: between two requests a keep-alive connection needs only its socket, a
// read event carrying the keep-alive deadline, and the little the next
// request's session must know about the client. Its HttpSession (544
// bytes), the exchange storage it made at its first request (~1.7 KB, kept
// for the next, exchange_slot.h's ExchangeSlot) and bufferevent with two
// evbuffers and two events (~1 KB) are
// freed when it goes idle with nothing buffered, and made again when its next
// request arrives: ten thousand idle clients then cost a few hundred bytes
// each instead of over 3 KB. HAProxy and nginx likewise give the buffers of
// an idle connection back; nginx frees its request, as we free the session. A
// TLS connection keeps its SSL (handshake done), without OpenSSL's record
// buffers.
//
// The switch costs no system call: libevent registers a socket with epoll
// once for all the events reading it. The parked read event is added before
// the session's read event is deleted, and the resumed session's read event
// is added before the parked one is deleted, so the socket's reader count
// never reaches zero and epoll is not touched.
//
// Worker thread only.
#pragma once

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/net/address.h"
#include "core/loop/event.h"
#include "l7/h2_parked_state.h"
#include "l7/tls/tls_certificate.h"

namespace lbd::l7 {

class HttpListener;
class L7Worker;

// An idle keep-alive connection, HTTP/1 or HTTP/2, gives up its session
// after this long. Not at once: a busy client's next request usually comes
// within a millisecond, and would pay for a new session and bufferevent
// (a few percent of throughput); an idle one waits seconds.
inline constexpr uint32_t kParkAfterMs = 50;

// What a parked connection keeps for its next session. Its fields are
// ordered so that it packs into 80 bytes (bench/README.md has the table of
// what a parked connection costs).
struct ParkedClient {
    std::shared_ptr<HttpListener> listener;  // and with it the configuration
    // A TLS listener's connection: its SSL, handshake done, without its
    // record buffers while parked (SSL_free_buffers: ~0.5-34 KB each).
    SslPtr ssl;
    // When its last answer went out (monotonic_ms): a planned handover's
    // idle grace counts from it (L7Worker::handover_idle_left_ms).
    uint64_t idle_since_ms = 0;
    UniqueFd fd;
    uint16_t local_port = 0;
    // The peer, without SocketAddress's 128-byte sockaddr_storage.
    uint8_t peer_length = 0;
    sockaddr_in6 peer{};
    // An HTTP/2 connection's state (null: HTTP/1).
    std::unique_ptr<H2ParkedState> h2;

    // False when `address` does not fit (not IPv4/IPv6): the connection then
    // stays a session.
    bool set_peer(const SocketAddress& address);
    SocketAddress peer_address() const;
};

class ParkedClients {
public:
    ParkedClients(event_base* base, L7Worker& worker) : base_(base), worker_(worker) {}
    ~ParkedClients() { close_all(); }
    ParkedClients(const ParkedClients&) = delete;
    ParkedClients& operator=(const ParkedClients&) = delete;

    // Watches `client` until its next request (the worker resumes a session,
    // L7Worker::resume_session) or EOF, or until `keep_alive_ms` pass (the
    // connection is closed, over TLS after close_notify; an HTTP/2 one is
    // woken to send its GOAWAY). Call before the session deletes its read
    // event; the returned entry takes the SSL then.
    ParkedClient& park(ParkedClient client, uint32_t keep_alive_ms);
    // Shutdown: close every parked connection (nothing is in flight on them).
    void close_all();
    // Drain: HTTP/2 connections are woken, and their sessions send GOAWAY
    // (naming the last stream) and close; the others close now.
    void drain();
    // A planned handover: every parked HTTP/1 connection closes if no
    // request comes within its idle grace (one that comes resumes a session,
    // as always); HTTP/2 ones are woken to send GOAWAY, as busy ones do.
    void expire_for_handover();
    // Wakes every parked HTTP/2 connection into a session (a reload: they
    // send GOAWAY, HttpSession::resume_h2).
    void wake_h2();
    size_t size() const { return count_; }

private:
    // One heap block per parked connection, found by its descriptor: no list
    // links and no back-pointer (the event's argument is the owner, and the
    // descriptor it reports names the entry). 208 bytes, a 224-byte chunk.
    struct Entry {
        event ev;  // EV_READ | EV_PERSIST with the keep-alive timeout
        ParkedClient client;
    };
    static void on_event(evutil_socket_t fd, short what, void* arg);
    // A session again for the connection on `fd`; `expired`: to end it
    // (HTTP/2: GOAWAY), else to read what came.
    void wake(int fd, bool expired);
    void close(int fd);

    event_base* base_;
    L7Worker& worker_;
    // Indexed by descriptor, as libevent's own map of them: 8 bytes per
    // descriptor number ever parked, kept for the next one.
    std::vector<std::unique_ptr<Entry>> by_fd_;
    size_t count_ = 0;
};

}  // namespace lbd::l7
