// The CPU governor of compression (HAProxy's maxcompcpuusage): how much of
// one worker thread's time went into compressing over the last window, so
// new responses can be compressed at a lower level, or not at all, when
// compression would starve the proxying itself.
//
// The share is a sliding-window estimate (as a rate limiter's): the time
// spent in the current window plus the previous window's, weighted by how
// much of it still overlaps the last `window_ms`. The time is the monotonic
// clock's around each encoder call, not the thread's CPU time: an encoder
// call never blocks, so the two differ only by a preemption mid-call (and a
// machine that busy is one where compressing less is right), while
// CLOCK_THREAD_CPUTIME_ID is a system call, 4.5 us each on the VM measured
// in bench/README.md (0.8% of a 100 KiB gzip response at four per
// response), against CLOCK_MONOTONIC's 0.1 us in the vDSO. One per listener
// per worker; worker thread only.
#pragma once

#include <cstdint>

namespace lbd::compression {

class CpuGovernor {
public:
    explicit CpuGovernor(uint32_t window_ms) : window_ns_(uint64_t{window_ms} * 1'000'000) {}

    // CLOCK_MONOTONIC in ns (no system call).
    static uint64_t now_ns();

    // `cpu_ns` spent compressing, at `now_ns` (now_ns()).
    void spent(uint64_t cpu_ns, uint64_t now_ns);
    // The share of the last window spent compressing, in percent (may
    // exceed 100 only through clock granularity).
    uint32_t percent(uint64_t now_ns);

    enum class Verdict : uint8_t { kFull, kLowered, kOff };
    // kOff above `max_percent`, kLowered above three quarters of it, kFull
    // below, or when max_percent is 0 (no limit).
    Verdict verdict(uint32_t max_percent, uint64_t now_ns);

private:
    void roll(uint64_t now_ns);
    uint64_t window_ns_;
    uint64_t start_ns_ = 0;     // of the current window
    uint64_t current_ns_ = 0;   // spent in it
    uint64_t previous_ns_ = 0;  // spent in the one before
};

}  // namespace lbd::compression
