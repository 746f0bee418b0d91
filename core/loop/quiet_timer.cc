#include "core/loop/quiet_timer.h"

#include <ctime>

namespace lbd {
namespace {

uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Under 1% of a CPU over a period is quiet: an idle worker's own timers
// (keep-alive deadlines, this tick) use far less, and a worker that serves
// even a few dozen requests a second uses more.
constexpr uint64_t kQuietShareDivisor = 100;

}  // namespace

QuietTimer::QuietTimer(event_base* base, uint32_t period_ms, std::function<void()> on_quiet)
    : period_ms_(period_ms),
      on_quiet_(std::move(on_quiet)),
      timer_(make_event(base, -1, EV_PERSIST, &QuietTimer::on_tick, this)) {
    arm_timer(timer_.get(), period_ms_);  // EV_PERSIST: every period_ms from now on
}

QuietTimer::~QuietTimer() = default;

void QuietTimer::on_tick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<QuietTimer*>(arg);
    const uint64_t now = thread_cpu_ns();
    if (!self->started_) {
        // The first reading is on the loop's thread: what ran before it
        // (construction, start-up) counts as work, so a worker that never
        // serves anything still hands back its start-up garbage once.
        self->started_ = true;
        self->busy_ = true;
        self->cpu_ns_ = now;
        return;
    }
    const uint64_t used_ns = now - self->cpu_ns_;
    self->cpu_ns_ = now;
    const uint64_t period_ns = uint64_t{self->period_ms_} * 1'000'000u;
    if (used_ns * kQuietShareDivisor > period_ns) {
        self->busy_ = true;
        return;
    }
    if (!self->busy_) return;
    self->busy_ = false;
    self->on_quiet_();
    // What on_quiet used is its own work, not the loop's.
    self->cpu_ns_ = thread_cpu_ns();
    self->calls_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace lbd
