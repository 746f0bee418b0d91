// The CPU governor of compression (HAProxy's maxcompcpuusage): how much of
// one worker thread's time went into compressing, so new responses can be
// compressed at a lower level, or not at all, when compression would starve
// the proxying itself.
//
// One per worker (L7Worker::compression_governor()), fed by the compressing
// responses of every listener and route on it: the budget is the worker's,
// as the share is of the worker's CPU. Each listener or route holds its own
// new responses to its own max_cpu_percent over its own cpu_window_ms, both
// read against this one meter, so a listener with a low limit backs off
// when others keep the worker busy compressing.
//
// The meter keeps the time spent in slots of 100 ms over the last 60 s (the
// longest cpu_window_ms): a window's share is the sum of the slots it
// covers, the oldest weighted by how much of it is still inside (a sliding
// estimate, as a rate limiter's). The time is the monotonic clock's around
// each encoder call, not the thread's CPU time: an encoder call never
// blocks, so the two differ only by a preemption mid-call (and a machine
// that busy is one where compressing less is right), while
// CLOCK_THREAD_CPUTIME_ID is a system call, 4.5 us each on the VM measured
// in bench/README.md (0.8% of a 100 KiB gzip response at four per
// response), against CLOCK_MONOTONIC's 0.1 us in the vDSO. Worker thread
// only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lbd::compression {

class CpuGovernor {
public:
    static constexpr uint64_t kSlotNs = 100'000'000;
    // Windows are clamped to [one slot, this] (cpu_window_ms's range is 100..60000).
    static constexpr uint32_t kMaxWindowMs = 60'000;

    // CLOCK_MONOTONIC in ns (no system call).
    static uint64_t now_ns();

    // `cpu_ns` spent compressing, ending at `now_ns` (now_ns()).
    void spent(uint64_t cpu_ns, uint64_t now_ns);
    // The share of the last `window_ms` spent compressing, in percent (may
    // exceed 100 only through clock granularity).
    uint32_t percent(uint32_t window_ms, uint64_t now_ns);

    enum class Verdict : uint8_t { kFull, kLowered, kOff };
    // kOff at or above `max_percent` of the last `window_ms`, kLowered at
    // or above three quarters of it, kFull below, or when max_percent is 0
    // (no limit).
    Verdict verdict(uint32_t max_percent, uint32_t window_ms, uint64_t now_ns);

private:
    // The current slot and, before it, enough to cover the longest window
    // and the slot that window starts in.
    static constexpr size_t kSlots = uint64_t{kMaxWindowMs} * 1'000'000 / kSlotNs + 2;
    // Moves the current slot to `now_ns`'s, emptying the ones passed.
    void advance(uint64_t now_ns);
    // The slot `back` slots before the current one.
    uint64_t before(size_t back) const { return slots_[(current_ + kSlots - back) % kSlots]; }

    std::array<uint64_t, kSlots> slots_{};  // ns spent, by slot number modulo kSlots
    uint64_t current_ = 0;                  // the current slot's number (now_ns / kSlotNs)
};

}  // namespace lbd::compression
