// A server of a pool, shared by all workers.
//
// Thread model: every field that changes at run time is atomic, so workers
// read state, weight and connection counts without a lock. Writers (health
// checker, admin commands, passive ejection, slow start) bump the owning pool's
// generation; each worker rebuilds its balancer when it sees a new one.
//
// Servers are shared (shared_ptr): a reload that keeps a server (same pool,
// name and address) hands the same object to the new pool, so its health,
// admin state, counters and open connections carry over; connections hold
// a reference, so a removed server lives until its last connection ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/net/address.h"
#include "core/base/histogram.h"
#include "core/config/server_types.h"

namespace lbd {

struct ServerCounters {
    // Time from connect() to the connection being established.
    LatencyHistogram connect_time;
    std::atomic<uint64_t> connections_total{0};
    std::atomic<uint64_t> connect_failures{0};
    // Connects made again to this server after one failed, no other
    // server being left to try (HTTP; the pool's `retries`).
    std::atomic<uint64_t> connect_retries{0};
    std::atomic<uint64_t> bytes_to_server{0};
    std::atomic<uint64_t> bytes_from_server{0};
};

class Server {
public:
    // Told of every effective-state change and every weight change (then
    // old_state == new_state), from any thread. One observer for the
    // process, set before workers start (the HA sync uses it).
    class StateObserver {
    public:
        virtual ~StateObserver() = default;
        virtual void server_state_changed(const Server& server, ServerState old_state, ServerState new_state,
                                          const char* reason) = 0;
    };
    static void set_observer(StateObserver* observer);

    Server(std::string pool_name, std::string name, SocketAddress address, uint32_t weight = 1,
           uint32_t max_connections = 0, AdminState admin = AdminState::kReady,
           HealthState health = HealthState::kUp);

    const std::string& pool_name() const { return pool_name_; }
    const std::string& name() const { return name_; }
    // Opaque, stable identity: the same pool/name gives the same id on every
    // node and every run, and it reveals neither address nor position.
    const std::string& id() const { return id_; }
    const SocketAddress& address() const { return address_; }
    uint32_t max_connections() const { return max_connections_.load(std::memory_order_relaxed); }
    void set_max_connections(uint32_t limit) { max_connections_.store(limit, std::memory_order_relaxed); }

    ServerState state() const;
    bool is_up() const { return state() == ServerState::kUp; }
    HealthState health() const { return health_.load(std::memory_order_acquire); }
    AdminState admin_state() const { return admin_.load(std::memory_order_acquire); }
    uint32_t weight() const { return weight_.load(std::memory_order_relaxed); }
    // Milliseconds (CLOCK_REALTIME) of the last effective-state change.
    uint64_t last_change_ms() const { return last_change_ms_.load(std::memory_order_relaxed); }

    void set_health(HealthState health, const char* reason);
    void set_admin_state(AdminState admin, const char* reason);
    void set_weight(uint32_t weight);

    // Connection slots: try_acquire_slot() fails when max_connections is
    // reached. Every successful acquire is paired with one release_slot().
    uint32_t active_connections() const { return active_.load(std::memory_order_relaxed); }
    bool at_capacity() const;
    bool try_acquire_slot();
    void release_slot();

    // Passive health (passive_health.h): records a failure (a failed connect
    // or a failure status) at `now_ms` (monotonic) and returns true when it
    // makes `max_fails` failures within `window_ms`.
    bool record_failure(uint64_t now_ms, uint32_t max_fails, uint32_t window_ms);

    // Slow start (slow_start.h). Balancers weigh servers in units of
    // 1/kWeightScale so that a weight-1 server can take 10% of a share.
    static constexpr uint32_t kWeightScale = 20;
    // The ramp time of the owning pool; 0 = off. Set by the pool.
    void set_slow_start(uint32_t ms) { slow_start_ms_.store(ms, std::memory_order_relaxed); }
    // The share of its weight the server takes at `now_ms` (monotonic):
    // 0.1 when it has just come back UP, growing linearly to 1.0.
    double slow_start_factor(uint64_t now_ms) const;
    // weight() scaled by the slow start now: what lbctl and metrics show.
    double effective_weight() const;
    // weight() * kWeightScale * slow_start_factor(now), at least 1: what
    // balancers weigh the server with at a rebuild.
    uint32_t balancing_weight() const;
    // Control thread, on each slow start tick: while the server ramps, bumps
    // the pool generation (workers rebuild with the grown weight); ends the
    // ramp once it is over.
    void slow_start_tick(uint64_t now_ms);

    // Set by the pool that owns the server now: bumped on every change that
    // alters balancing. A reload re-attaches a kept server to its new pool.
    void attach(std::atomic<uint64_t>* pool_generation);

    ServerCounters counters;

private:
    void changed(ServerState old_state, const char* reason);

    std::string pool_name_;
    std::string name_;
    std::string id_;
    SocketAddress address_;
    std::atomic<uint32_t> max_connections_;
    std::atomic<HealthState> health_;
    std::atomic<AdminState> admin_;
    std::atomic<uint32_t> weight_;
    std::atomic<uint32_t> active_{0};
    std::atomic<uint64_t> last_change_ms_{0};
    std::atomic<std::atomic<uint64_t>*> generation_{nullptr};
    std::atomic<uint32_t> slow_start_ms_{0};
    // Monotonic ms when the server last came back UP; 0 = not ramping.
    std::atomic<uint64_t> ramp_start_ms_{0};

    // Only the failure path takes this lock; successful connects never do.
    std::mutex fail_mutex_;
    uint64_t fail_window_start_ms_ = 0;
    uint32_t fail_count_ = 0;
};

}  // namespace lbd
