#include "l7/compression/cpu_governor.h"

#include <time.h>

namespace lbd::compression {

uint64_t CpuGovernor::now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

void CpuGovernor::roll(uint64_t now_ns) {
    if (now_ns < start_ns_ + window_ns_) return;
    // One window on: the current becomes the previous; two or more: both
    // are history.
    previous_ns_ = now_ns < start_ns_ + 2 * window_ns_ ? current_ns_ : 0;
    current_ns_ = 0;
    start_ns_ = now_ns - (now_ns - start_ns_) % window_ns_;
}

void CpuGovernor::spent(uint64_t cpu_ns, uint64_t now_ns) {
    roll(now_ns);
    current_ns_ += cpu_ns;
}

uint32_t CpuGovernor::percent(uint64_t now_ns) {
    roll(now_ns);
    const uint64_t into = now_ns - start_ns_;
    // The previous window's part still inside the last window_ns_.
    const double overlap = double(window_ns_ - into) / double(window_ns_);
    const double busy = double(current_ns_) + double(previous_ns_) * overlap;
    return static_cast<uint32_t>(busy * 100.0 / double(window_ns_));
}

CpuGovernor::Verdict CpuGovernor::verdict(uint32_t max_percent, uint64_t now_ns) {
    if (max_percent == 0) return Verdict::kFull;
    const uint32_t p = percent(now_ns);
    if (p >= max_percent) return Verdict::kOff;
    if (p * 4 >= max_percent * 3) return Verdict::kLowered;
    return Verdict::kFull;
}

}  // namespace lbd::compression
