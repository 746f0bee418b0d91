// One L4 connection: a client socket, a server socket, and the bytes moved
// between them with splice(2) through two pipes (one per direction).
//
// Life cycle:
//
//   accepted --accept_proxy--> PROXY_HEADER --header parsed--+
//      |                           | bad/late header: end    |
//      +---------------------------+-------------------------+
//                                  v
//          +----------------> CONNECTING --connect failed, retries left--+
//          |                  |   ^   |                                  |
//     slot freed        all full  |   +--------------------------------- +
//          |                  v   |
//          +------------ QUEUED   |   no server UP / retries exhausted: end
//                                 |
//                 connected: SENDING_PROXY_HEADER (send_proxy) -> FORWARDING
//                                                                    |
//   FORWARDING: each direction runs  src -> pipe -> dst  until src's EOF,
//   then shutdown(dst, SHUT_WR) (half-close). The session ends when both
//   directions have ended, on a reset of either side (the other side is
//   then reset too, so neither mistakes an abort for a clean end), or on
//   the idle timeout.
//
// Small bursts are copied through a worker buffer (recv + send); a flow
// whose read fills that buffer is a bulk transfer and splices from then on,
// through a pipe grown to 256 KiB if the process has one to spare
// (l4/pipe_pool.h): fewer, larger splice() calls.
//
// Readiness is edge-triggered: each socket has one persistent EV_ET event
// for read and write, and the session remembers which side is readable or
// writable until a splice() returns EAGAIN. It never reads more than the
// pipe can take, and never fills the pipe faster than the destination
// drains it: that is the back-pressure.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "core/net/address.h"
#include "core/loop/event.h"
#include "core/balance/pool.h"
#include "l4/l4_types.h"
#include "l4/pipe_pool.h"

namespace lbd::l4 {

class L4Worker;
class L4Listener;

class SpliceSession {
public:
    SpliceSession(L4Worker& worker, std::shared_ptr<L4Listener> listener, UniqueFd client_fd,
                  const SocketAddress& peer);
    ~SpliceSession();
    SpliceSession(const SpliceSession&) = delete;
    SpliceSession& operator=(const SpliceSession&) = delete;

    void start();
    // From the worker's queue, which has removed the session: a server slot
    // may be free now (if not, the session queues again).
    void leave_queue();
    // From the worker's queue, which has removed the session: waited too long.
    void queue_expired() { end(EndReason::kQueueTimeout); }
    uint64_t queued_since_ms() const { return queued_since_ms_; }
    // For the worker's queue: some server of this session's pool is UP and
    // below its max_connections.
    bool has_free_server();
    // Shutdown deadline.
    void abort(EndReason reason) { end(reason); }

    // Set by L4Worker; used to erase the session in O(1).
    std::list<std::unique_ptr<SpliceSession>>::iterator self;

private:
    enum class State : uint8_t { kProxyHeader, kConnecting, kQueued, kSendingProxyHeader, kForwarding, kEnded };

    struct Side {
        UniqueFd fd;
        EventPtr event;
        bool readable = true;      // until a read returns EAGAIN (or a short read)
        bool writable = true;      // until a write returns EAGAIN
        bool peer_closed = false;  // EV_CLOSED (EPOLLRDHUP) seen: a FIN is waiting
    };
    struct Flow {
        Pipe pipe;
        size_t in_pipe = 0;  // bytes spliced in and not yet out
        bool src_eof = false;
        bool dst_shut = false;
        bool bulk = false;   // a read filled the copy buffer: splice from now on
        bool grow_tried = false;  // the pipe was offered to grow (once, when bulk)
        uint64_t bytes = 0;  // delivered to the destination
    };
    enum class PumpResult : uint8_t { kOk, kSrcError, kDstError };

    static void on_client_event(evutil_socket_t fd, short what, void* arg);
    static void on_server_event(evutil_socket_t fd, short what, void* arg);
    static void on_timer(evutil_socket_t fd, short what, void* arg);

    void read_proxy_header();
    void connect_next();
    void connect_failed(const char* why);
    // The connect failed for lack of lbd's own resources: the server is not blamed.
    void local_connect_failure(int err);
    void connected();
    void send_proxy_header();
    void start_forwarding();
    void forward();
    PumpResult pump(Flow& flow, Side& src, Side& dst);
    PumpResult pipe_to_dst(Flow& flow, Side& dst, bool& progress);
    PumpResult splice_in(Flow& flow, Side& src, bool& progress);
    PumpResult copy_once(Flow& flow, Side& src, Side& dst, bool& progress);
    void end(EndReason reason);
    void log_end(EndReason reason);

    L4Worker& worker_;
    // Keeps the listener, and through it the configuration (Runtime) the
    // connection started on, alive until the connection ends.
    std::shared_ptr<L4Listener> listener_;
    Pool& pool_;
    State state_ = State::kConnecting;
    Side client_;
    Side server_;
    Flow upstream_;    // client -> server
    Flow downstream_;  // server -> client
    EventPtr timer_;

    SocketAddress peer_;         // the TCP peer of the client socket
    SocketAddress client_addr_;  // the client: peer_, or the PROXY header's source
    SocketAddress dest_addr_;    // what the client connected to, for PROXY out
    bool have_dest_ = false;

    std::shared_ptr<Server> server_choice_;  // holds one of its slots while set
    std::vector<const Server*> tried_;
    size_t failed_connects_ = 0;  // of tried_, those whose connect failed (the others were full)
    std::string proxy_out_;  // PROXY header bytes still to send
    size_t proxy_sent_ = 0;

    uint64_t start_ms_;
    uint64_t connect_start_ms_ = 0;
    uint64_t last_activity_ms_ = 0;
    uint64_t queued_since_ms_ = 0;
};

}  // namespace lbd::l4
