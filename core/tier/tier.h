// A tier: one kind of listener (the L4 tier's TCP splicing, the L7 tier's
// HTTP) served on the workers. The daemon (core/daemon) knows tiers only
// through this interface, after Envoy's split of the server from its
// listener manager; lbd's main builds the tiers and hands them over.
//
// A configuration goes live in two steps, so that a reload is one
// transaction across tiers:
//
//   prepare(next)  every tier opens the sockets of its new and changed
//                  listeners and builds what they need (TLS contexts...),
//                  touching nothing that runs. Any failure: every plan is
//                  dropped (closing what it opened) and nothing changed.
//   commit(plan)   every tier switches; this cannot fail.
//
// Stopping: stop_accepting(), then wait for active_connections() to reach
// 0, or abort_all() at the drain deadline.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/tier/runtime.h"
#include "lbd/v1/admin.pb.h"

namespace lbd {

class Server;
class WorkerSpread;

class Tier {
public:
    // What prepare() built for one configuration; dropping it undoes it.
    struct Plan {
        virtual ~Plan() = default;
    };

    virtual ~Tier() = default;

    // The listener mode this tier serves.
    virtual ListenerMode mode() const = 0;

    // Control thread. Null with `error` (naming the listener or pool at
    // fault) if anything of `next` cannot be set up.
    virtual std::unique_ptr<Plan> prepare(const RuntimePtr& next, std::string* error) = 0;
    // Control thread; `plan` comes from this tier's prepare(). Before the
    // workers start, listeners start at once; afterwards each worker switches
    // by a posted task (await_posted_tasks() waits for them). Open
    // connections finish on the configuration they started with.
    virtual void commit(std::unique_ptr<Plan> plan) = 0;

    // Any thread: close listening sockets (and idle connections); open ones go on.
    virtual void stop_accepting() = 0;
    // Any thread: end every connection now (the drain deadline).
    virtual void abort_all() = 0;
    // Any thread: a planned HA handover of `addresses` (raw IP bytes, the
    // virtual IPs) to the peer (core/daemon/pair_member.h). Every listening
    // socket drops new connections to them unanswered (their clients retry
    // and reach the peer once it holds the address) and still accepts what
    // the kernel already took; open connections end cleanly: HTTP after the
    // response in progress (Connection: close), idle keep-alive ones after a
    // grace that the drain deadline, `drain_timeout_ms` from now, sets
    // (l7/l7_worker.h). Empty `addresses`: listeners take connections again.
    virtual void hand_over(std::shared_ptr<const std::vector<std::string>> addresses, uint32_t drain_timeout_ms) = 0;

    // Control thread.
    virtual uint64_t active_connections() const = 0;
    // Any thread: the tier's client connections on each worker, and how many
    // each took over from another worker's accept queue (worker_spread.h).
    virtual const WorkerSpread& spread() const = 0;
    // Control thread: closes the idle keep-alive connections the workers hold
    // to `server` (it was drained or put in MAINT: nothing will reuse them)
    // and returns how many. Waits for the workers (at most about a second).
    virtual size_t close_idle_connections(const std::shared_ptr<Server>& server) {
        (void)server;
        return 0;  // a tier without idle server connections
    }
    // `lbctl status`: fills `out` for `listener` (one of this tier's mode).
    virtual void describe(const ListenerConfig& listener, ::lbd::v1::ListenerInfo& out) const = 0;
    // `lbctl stats`: one entry per listener of this tier.
    virtual void fill_stats(::lbd::v1::StatsReply& reply) const = 0;
    // Prometheus text for this tier's listeners.
    virtual void write_metrics(std::string& out) const = 0;
};

}  // namespace lbd
