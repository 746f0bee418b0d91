// Tells a loop's owner when its thread has gone quiet after working: the
// moment to hand back what the work left behind (cli/allocator.cc gives the
// allocator's free memory back to the kernel then).
//
// Quiet is measured as the thread's own CPU time (CLOCK_THREAD_CPUTIME_ID),
// not as open connections or requests: a worker holding 10,000 idle
// keep-alive connections is quiet, and one that is busy with nothing the
// tiers count (a reload, a TLS key exchange) is not. A thread is quiet over a
// period in which it used under 1% of a CPU. `on_quiet` runs once per busy
// spell, at the end of the first quiet period after it: a thread that stays
// quiet is not called again, so the callback may be as slow as it must be.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "core/loop/event.h"

namespace lbd {

class QuietTimer {
public:
    // On `base`'s thread, every `period_ms` (> 0). Build it before the loop
    // runs or on its thread; destroy it on that thread or once the loop has
    // stopped.
    QuietTimer(event_base* base, uint32_t period_ms, std::function<void()> on_quiet);
    ~QuietTimer();
    QuietTimer(const QuietTimer&) = delete;
    QuietTimer& operator=(const QuietTimer&) = delete;

    // Any thread: how many times on_quiet has run.
    uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }

private:
    static void on_tick(evutil_socket_t, short, void* arg);

    uint32_t period_ms_;
    std::function<void()> on_quiet_;
    EventPtr timer_;
    bool started_ = false;      // cpu_ns_ holds a reading
    bool busy_ = false;         // worked since on_quiet last ran (or since start)
    uint64_t cpu_ns_ = 0;       // the thread's CPU time at the last tick
    std::atomic<uint64_t> calls_{0};
};

}  // namespace lbd
