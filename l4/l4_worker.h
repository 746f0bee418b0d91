// What the L4 tier keeps per worker: its listening sockets, its open
// sessions, its pipes, its balancers (one ServerPicker per pool) and the
// queue of connections waiting for a server slot. Touched only on the
// worker's thread.
#pragma once

#include <array>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <span>

#include "core/config/config.h"
#include "core/health/passive_health.h"
#include "core/balance/pool.h"
#include "core/tier/runtime.h"
#include "core/loop/worker.h"
#include "l4/l4_types.h"
#include "l4/pipe_pool.h"

namespace lbd::l4 {

class SpliceSession;
class L4Listener;

class L4Worker {
public:
    L4Worker(Worker& worker, const GlobalConfig& global);
    ~L4Worker();

    Worker& worker() { return worker_; }
    event_base* base() { return worker_.base(); }
    PipePool& pipes() { return pipes_; }
    // Scratch buffer for copying small bursts; valid until the next call
    // on this worker (sessions use it within one pump, never across events).
    std::span<char> copy_buffer() { return copy_buffer_; }
    const GlobalConfig& global() const { return global_; }
    // The worker's balancer for the pool of `listener`.
    ServerPicker& picker_for(const L4Listener& listener);

    void add_listener(std::shared_ptr<L4Listener> listener);
    const std::vector<std::shared_ptr<L4Listener>>& listeners() const { return listeners_; }
    // Reload: the listener of this worker named `name`, if any.
    std::shared_ptr<L4Listener> find_listener(const std::string& name) const;
    // Reload: `next` becomes the worker's listener set (already started);
    // listeners not carried into it stop accepting. Their open connections
    // go on. Pickers of the old configuration are dropped.
    void replace_listeners(std::vector<std::shared_ptr<L4Listener>> next, const GlobalConfig& global);

    // Takes ownership of a new session and starts it.
    void start_session(std::unique_ptr<SpliceSession> session);
    // Called by a session as the last thing it does; destroys it.
    void session_ended(SpliceSession* session, Pool* pool, bool released_server_slot);
    size_t session_count() const { return sessions_.size(); }

    // Queue of sessions waiting for a server slot of `pool`. False when the
    // pool's queue is full.
    bool enqueue(Pool& pool, SpliceSession* session);
    void dequeue(Pool& pool, SpliceSession* session);

    // Passive ejection without active checks: the server comes back UP
    // after `ms`, as nginx's max_fails/fail_timeout does.
    void schedule_revive(std::shared_ptr<Server> server, uint32_t ms) { revivals_.schedule(std::move(server), ms); }

    // Shutdown: close listening sockets (established sessions go on).
    void stop_accepting();
    // Shutdown deadline: end every session.
    void abort_all(EndReason reason = EndReason::kDrainTimeout);
    // Planned HA handover (Tier::hand_over): new connections to `addresses`
    // are dropped; a TCP stream cannot be told to end, so open sessions go
    // on (the HA node waits for them up to its drain deadline: nothing here
    // needs `drain_timeout_ms`).
    void hand_over(const std::vector<std::string>& addresses, uint32_t drain_timeout_ms);

private:
    static void on_queue_timer(evutil_socket_t, short, void* arg);
    void service_queues();

    Worker& worker_;
    GlobalConfig global_;
    PipePool pipes_;
    // 16 KiB: a typical request or response fits; four pages of a pipe.
    std::array<char, 16384> copy_buffer_{};
    struct PickerEntry {
        RuntimePtr runtime;  // keeps the pool alive as long as the entry
        std::unique_ptr<ServerPicker> picker;
    };
    std::map<const Pool*, PickerEntry> pickers_;
    std::vector<std::shared_ptr<L4Listener>> listeners_;
    std::list<std::unique_ptr<SpliceSession>> sessions_;
    std::map<Pool*, std::deque<SpliceSession*>> queues_;
    EventPtr queue_timer_;
    PassiveRevivals revivals_;
};

}  // namespace lbd::l4
