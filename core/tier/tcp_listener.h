// A TCP listening socket on one worker, for any tier. Each worker has its own
// socket for each listener (SO_REUSEPORT), so the kernel spreads new
// connections over the workers and no accept lock is needed; where its
// spread is uneven, the listener hands a connection to a less loaded
// worker's listener of the same name (core/tier/worker_spread.h).
//
// The listener only accepts: what becomes of a connection is the tier's
// business (its AcceptFn). It enforces the listener's max_connections with
// the `active` counter the tier shares with its connections: the tier
// decrements it when a connection ends and then calls connection_closed().
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/net/address.h"
#include "core/config/config.h"
#include "core/loop/event.h"
#include "core/tier/worker_spread.h"

namespace lbd {

// Opens, binds and listens a non-blocking socket for `config` on `address`
// (the config's address, with the port resolved when it was 0).
UniqueFd open_listen_socket(const ListenerConfig& config, const SocketAddress& address, std::string* error);

// One socket per worker for `config`: checks first that no other process
// holds the address, then opens `count` SO_REUSEPORT sockets. A port of 0 is
// resolved by the first socket and shared by the others; `bound` says which.
bool open_listener_sockets(const ListenerConfig& config, size_t count, std::vector<UniqueFd>& fds,
                           SocketAddress& bound, std::string* error);

// One listener's sockets for a configuration about to run, in either tier.
// A listener whose name, address and mode are unchanged keeps its sockets:
// each worker hands its own to the listener's successor, so connections
// waiting in the accept queues are not lost. Any other gets new ones.
struct ListenerSockets {
    const ListenerConfig* config = nullptr;
    bool kept = false;
    SocketAddress bound;         // new sockets: where they are bound; kept: the tier fills it in
    std::vector<UniqueFd> fds;   // new sockets, one per worker

    // On worker `worker`'s thread: the socket its new listener takes.
    // `released` is what the worker's current listener of this name gave up
    // (kept sockets only); it listens again, to take a changed backlog.
    UniqueFd take(size_t worker, UniqueFd released);
};

// Fills `plan` for listener `config` of the next configuration: kept if
// `current` (null at start) has it with the same name, address and mode,
// else `workers` new sockets. False with `error` if one cannot be opened.
bool plan_listener_sockets(const ListenerConfig& config, const Config* current, size_t workers,
                           ListenerSockets& plan, std::string* error);

// Where a listener stands among its copies on the other workers.
struct AcceptSpread {
    WorkerSpread& spread;  // the tier's: one worker's listeners count there too
    size_t worker;         // this listener's worker
    // Called on this listener's thread: give `fd` to worker `to`'s listener
    // of the same name, which adopt()s it on its own thread. The connection
    // is already counted on `to` and holds one slot of `active`.
    std::function<void(size_t to, UniqueFd fd, const SocketAddress& peer)> hand_off;
};

class TcpListener {
public:
    // Called on the worker's thread for each accepted connection, with the
    // peer's address (IPv4-mapped addresses made plain). One slot of
    // `active` is already taken for it.
    using AcceptFn = std::function<void(UniqueFd fd, const SocketAddress& peer)>;

    // `accepted` and `active` outlive the listener (the tier's counters).
    TcpListener(event_base* base, const ListenerConfig& config, std::atomic<uint64_t>& accepted,
                std::atomic<uint32_t>& active, UniqueFd fd, AcceptSpread spread, AcceptFn on_accept);
    ~TcpListener();
    TcpListener(const TcpListener&) = delete;
    TcpListener& operator=(const TcpListener&) = delete;

    const ListenerConfig& config() const { return config_; }

    void start();
    // Closes the socket: the kernel refuses new connections from now on
    // (the other workers' sockets of this listener keep accepting until
    // they are stopped too).
    void stop();
    // Reload: hands the listening socket to this listener's successor, so
    // connections waiting in its accept queue are not lost.
    UniqueFd release_fd();
    // A connection of this listener ended: there may be room to accept again.
    void connection_closed();
    // On this listener's thread: a connection another worker's copy of this
    // listener accepted and handed over (AcceptSpread::hand_off).
    void adopt(UniqueFd fd, const SocketAddress& peer) { on_accept_(std::move(fd), peer); }
    // Planned HA handover (core/net/syn_filter.h): new connections to
    // `addresses` (raw IP bytes) are dropped unanswered, everything else is
    // accepted as before; empty: the filter goes. Failures are logged.
    void drop_syns_to(const std::vector<std::string>& addresses);

private:
    static void on_acceptable(evutil_socket_t fd, short what, void* arg);
    static void on_resume(evutil_socket_t fd, short what, void* arg);
    void accept_some();
    void pause(uint32_t ms);
    bool reserve_slot();

    const ListenerConfig& config_;
    std::atomic<uint64_t>& accepted_;
    std::atomic<uint32_t>& active_;
    UniqueFd fd_;
    AcceptSpread spread_;
    AcceptFn on_accept_;
    EventPtr accept_event_;
    EventPtr resume_timer_;
    bool paused_ = false;
};

}  // namespace lbd
