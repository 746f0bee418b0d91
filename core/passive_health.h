// Passive health: what live traffic says about a server. Failed connects
// (both tiers) and failure statuses (HTTP pools: passive_health's
// failure_statuses) count against the server; `max_fails` of them within
// `fail_timeout_ms` eject it (DOWN). Then either the active checks bring it
// back with `rise` successes, or, when the pool has none, the worker that
// ejected it revives it after `ejection_ms` (nginx's max_fails/fail_timeout).
//
// Any worker thread. Only failures take a lock (Server::record_failure).
#pragma once

#include "core/config.h"
#include "core/server.h"

namespace lbd {

// Counts one failure of `server` (a connect that failed: `why` is the
// error). Returns true when it ejected the server and the pool has no
// active check: the caller then schedules its revival after
// passive_health.ejection_ms.
bool passive_connect_failure(Server& server, const PoolConfig& pool, const char* why);

// The same for a response with `status` from the server: counts only the
// statuses the pool treats as failures.
bool passive_response_status(Server& server, const PoolConfig& pool, int status);

}  // namespace lbd
