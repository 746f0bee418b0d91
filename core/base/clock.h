// The clocks lbd reads: monotonic for timeouts and durations, real time for what operators read.
#pragma once

#include <cstdint>

namespace lbd {

// Milliseconds on CLOCK_MONOTONIC, for timeouts and durations.
uint64_t monotonic_ms();
// Microseconds on CLOCK_MONOTONIC, where milliseconds are too coarse (rate limits).
uint64_t monotonic_us();
// Milliseconds on CLOCK_REALTIME (Unix time), for what operators read.
uint64_t realtime_ms();

}  // namespace lbd
