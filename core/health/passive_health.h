// Passive health: what live traffic says about a server. Failed connects
// (both tiers) and failure statuses (HTTP pools: passive_health's
// failure_statuses) count against the server; `max_fails` of them within
// `fail_timeout_ms` eject it (DOWN). Then either the active checks bring it
// back with `rise` successes, or, when the pool has none, the worker that
// ejected it revives it after `ejection_ms` (nginx's max_fails/fail_timeout).
//
// Any worker thread. Only failures take a lock (Server::record_failure).
#pragma once

#include <cstdint>
#include <list>
#include <memory>

#include "core/config/config.h"
#include "core/loop/event.h"
#include "core/balance/server.h"

namespace lbd {

// Counts one failure of `server` (a connect that failed: `why` is the
// error). Returns true when it ejected the server and the pool has no
// active check: the caller then schedules its revival after
// passive_health.ejection_ms.
bool passive_connect_failure(Server& server, const PoolConfig& pool, const char* why);

// The same for a response with `status` from the server: counts only the
// statuses the pool treats as failures.
bool passive_response_status(Server& server, const PoolConfig& pool, int status);

// A worker's pending revivals of servers it ejected (the "true" above): one
// timer each, which sets the server UP when ejection_ms has passed. Worker
// thread only; pending timers die with the worker.
class PassiveRevivals {
public:
    explicit PassiveRevivals(event_base* base) : base_(base) {}
    PassiveRevivals(const PassiveRevivals&) = delete;
    PassiveRevivals& operator=(const PassiveRevivals&) = delete;

    void schedule(std::shared_ptr<Server> server, uint32_t ms);

private:
    // The timer's argument is the list element itself (list nodes never
    // move); the entry, its timer and its server reference go together.
    struct Revival {
        PassiveRevivals* owner = nullptr;
        std::list<Revival>::iterator self;
        std::shared_ptr<Server> server;
        EventPtr timer;
    };
    static void on_revive(evutil_socket_t fd, short what, void* arg);

    event_base* base_;
    std::list<Revival> revivals_;
};

}  // namespace lbd
