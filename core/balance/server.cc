#include "core/balance/server.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/base/clock.h"
#include "core/base/hash.h"
#include "core/base/log.h"

namespace lbd {

const char* to_string(HealthState state) { return state == HealthState::kUp ? "UP" : "DOWN"; }

const char* to_string(AdminState state) {
    switch (state) {
        case AdminState::kReady: return "READY";
        case AdminState::kDrain: return "DRAIN";
        case AdminState::kMaint: return "MAINT";
    }
    return "?";
}

const char* to_string(ServerState state) {
    switch (state) {
        case ServerState::kUp: return "UP";
        case ServerState::kDown: return "DOWN";
        case ServerState::kDrain: return "DRAIN";
        case ServerState::kMaint: return "MAINT";
    }
    return "?";
}

static std::string make_server_id(const std::string& pool, const std::string& name) {
    // 64 bits of a keyed hash of "pool/name", in hex: stable everywhere,
    // reveals nothing about the server's address or its place in the pool.
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(hash64(pool + "/" + name, 0x6c62642d73727672ULL)));
    return buf;
}

Server::Server(std::string pool_name, std::string name, SocketAddress address, uint32_t weight,
               uint32_t max_connections, AdminState admin, HealthState health)
    : pool_name_(std::move(pool_name)),
      name_(std::move(name)),
      id_(make_server_id(pool_name_, name_)),
      address_(address),
      max_connections_(max_connections),
      health_(health),
      admin_(admin),
      weight_(weight == 0 ? 1 : weight),
      last_change_ms_(realtime_ms()) {}

ServerState Server::state() const {
    switch (admin_state()) {
        case AdminState::kMaint: return ServerState::kMaint;
        case AdminState::kDrain: return ServerState::kDrain;
        case AdminState::kReady: break;
    }
    return health() == HealthState::kUp ? ServerState::kUp : ServerState::kDown;
}

namespace {
Server::StateObserver* g_observer = nullptr;
}  // namespace

void Server::set_observer(StateObserver* observer) { g_observer = observer; }

void Server::attach(std::atomic<uint64_t>* pool_generation) {
    generation_.store(pool_generation, std::memory_order_release);
    pool_generation->fetch_add(1, std::memory_order_acq_rel);
}

void Server::changed(ServerState old_state, const char* reason) {
    ServerState new_state = state();
    // Back from an outage (not a drain, which kept the server warm): ramp
    // up before the generation bump, so the rebuild already sees the ramp.
    if (new_state == ServerState::kUp && (old_state == ServerState::kDown || old_state == ServerState::kMaint) &&
        slow_start_ms_.load(std::memory_order_relaxed) != 0)
        ramp_start_ms_.store(std::max<uint64_t>(monotonic_ms(), 1), std::memory_order_release);
    if (auto* generation = generation_.load(std::memory_order_acquire)) generation->fetch_add(1, std::memory_order_acq_rel);
    if (new_state == old_state) return;
    last_change_ms_.store(realtime_ms(), std::memory_order_relaxed);
    LOG_INFO("server %s/%s is %s (%s; was %s)", pool_name_.c_str(), name_.c_str(), to_string(new_state), reason,
             to_string(old_state));
    if (g_observer != nullptr) g_observer->server_state_changed(*this, old_state, new_state, reason);
}

void Server::set_health(HealthState health, const char* reason) {
    ServerState old_state = state();
    if (health_.exchange(health, std::memory_order_acq_rel) == health) return;
    changed(old_state, reason);
}

void Server::set_admin_state(AdminState admin, const char* reason) {
    ServerState old_state = state();
    if (admin_.exchange(admin, std::memory_order_acq_rel) == admin) return;
    changed(old_state, reason);
}

void Server::set_weight(uint32_t weight) {
    if (weight == 0) weight = 1;
    if (weight_.exchange(weight, std::memory_order_relaxed) == weight) return;
    ServerState now = state();
    changed(now, "weight changed");
    // changed() tells the observer of state changes only; the HA peer also
    // keeps weights.
    if (g_observer != nullptr) g_observer->server_state_changed(*this, now, now, "weight changed");
}

bool Server::at_capacity() const {
    uint32_t limit = max_connections();
    return limit != 0 && active_.load(std::memory_order_relaxed) >= limit;
}

bool Server::try_acquire_slot() {
    uint32_t limit = max_connections();
    if (limit == 0) {
        active_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    uint32_t current = active_.load(std::memory_order_relaxed);
    while (current < limit) {
        if (active_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed)) return true;
    }
    return false;
}

void Server::release_slot() { active_.fetch_sub(1, std::memory_order_relaxed); }

bool Server::record_failure(uint64_t now_ms, uint32_t max_fails, uint32_t window_ms) {
    std::lock_guard lock(fail_mutex_);
    if (fail_count_ == 0 || now_ms - fail_window_start_ms_ > window_ms) {
        fail_window_start_ms_ = now_ms;
        fail_count_ = 0;
    }
    ++fail_count_;
    if (max_fails == 0 || fail_count_ < max_fails) return false;
    fail_count_ = 0;
    return true;
}

double Server::slow_start_factor(uint64_t now_ms) const {
    const uint64_t start = ramp_start_ms_.load(std::memory_order_acquire);
    const uint32_t ramp = slow_start_ms_.load(std::memory_order_relaxed);
    if (start == 0 || ramp == 0) return 1.0;
    const uint64_t elapsed = now_ms > start ? now_ms - start : 0;  // `now` may predate a ramp just begun
    if (elapsed >= ramp) return 1.0;
    // 10% at once: a share of 0 would leave a weight-1 server idle for most
    // of the ramp, and a little traffic is what warms it.
    return 0.1 + 0.9 * static_cast<double>(elapsed) / ramp;
}

double Server::effective_weight() const { return weight() * slow_start_factor(monotonic_ms()); }

uint32_t Server::balancing_weight() const {
    const double full = static_cast<double>(weight()) * kWeightScale;
    return std::max<uint32_t>(1, static_cast<uint32_t>(full * slow_start_factor(monotonic_ms()) + 0.5));
}

void Server::slow_start_tick(uint64_t now_ms) {
    uint64_t start = ramp_start_ms_.load(std::memory_order_acquire);
    if (start == 0) return;
    // Over (or switched off by a reload): the ramp ends with one last
    // rebuild at the full weight. The CAS keeps a ramp that restarted
    // meanwhile (DOWN and UP again) running.
    const uint32_t ramp = slow_start_ms_.load(std::memory_order_relaxed);
    if (ramp == 0 || now_ms - start >= ramp) ramp_start_ms_.compare_exchange_strong(start, 0, std::memory_order_acq_rel);
    if (auto* generation = generation_.load(std::memory_order_acquire)) generation->fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace lbd
