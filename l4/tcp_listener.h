// A TCP listening socket on one worker. Each worker has its own socket for
// each listener (SO_REUSEPORT), so the kernel spreads new connections over
// the workers and no accept lock is needed.
#pragma once

#include <memory>
#include <string>

#include "core/address.h"
#include "core/config.h"
#include "core/event.h"
#include "core/pool.h"
#include "core/runtime.h"
#include "l4/l4_types.h"

namespace lbd::l4 {

class L4Worker;

// Opens, binds and listens a non-blocking socket for `config` on `address`
// (the config's address, with the port resolved when it was 0).
UniqueFd open_listen_socket(const ListenerConfig& config, const SocketAddress& address, std::string* error);

// Owned by its worker and shared with its connections: after a reload
// replaces it, it lives (with its Runtime) until its last connection ends.
class TcpListener : public std::enable_shared_from_this<TcpListener> {
public:
    TcpListener(L4Worker& worker, RuntimePtr runtime, const ListenerConfig& config, Pool& pool, ListenerStats& stats,
                UniqueFd fd);
    ~TcpListener();

    const ListenerConfig& config() const { return config_; }
    const RuntimePtr& runtime() const { return runtime_; }
    Pool& pool() const { return pool_; }
    ListenerStats& stats() const { return stats_; }

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

private:
    static void on_acceptable(evutil_socket_t fd, short what, void* arg);
    static void on_resume(evutil_socket_t fd, short what, void* arg);
    void accept_some();
    void pause(uint32_t ms);
    bool reserve_slot();

    L4Worker& worker_;
    RuntimePtr runtime_;
    const ListenerConfig& config_;
    Pool& pool_;
    ListenerStats& stats_;
    UniqueFd fd_;
    EventPtr accept_event_;
    EventPtr resume_timer_;
    bool paused_ = false;
};

}  // namespace lbd::l4
