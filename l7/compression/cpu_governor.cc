#include "l7/compression/cpu_governor.h"

#include <time.h>

#include <algorithm>

namespace lbd::compression {

uint64_t CpuGovernor::now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

void CpuGovernor::advance(uint64_t now_ns) {
    const uint64_t slot = now_ns / kSlotNs;
    if (slot <= current_) return;
    const uint64_t passed = std::min<uint64_t>(slot - current_, kSlots);
    for (uint64_t i = 1; i <= passed; ++i) slots_[(current_ + i) % kSlots] = 0;
    current_ = slot;
}

void CpuGovernor::spent(uint64_t cpu_ns, uint64_t now_ns) {
    advance(now_ns);
    slots_[current_ % kSlots] += cpu_ns;
}

uint32_t CpuGovernor::percent(uint32_t window_ms, uint64_t now_ns) {
    advance(now_ns);
    constexpr uint64_t kMaxWindowNs = uint64_t{kMaxWindowMs} * 1'000'000;
    const uint64_t window_ns = std::clamp<uint64_t>(uint64_t{window_ms} * 1'000'000, kSlotNs, kMaxWindowNs);
    const uint64_t into = std::max(now_ns, current_ * kSlotNs) - current_ * kSlotNs;
    // The current slot is inside the window whole (no longer than the
    // window); then whole slots back, and the part of one more.
    double busy = double(before(0));
    const uint64_t rest = window_ns - into;
    const size_t whole = rest / kSlotNs;
    for (size_t back = 1; back <= whole; ++back) busy += double(before(back));
    busy += double(before(whole + 1)) * double(rest % kSlotNs) / double(kSlotNs);
    return static_cast<uint32_t>(busy * 100.0 / double(window_ns));
}

CpuGovernor::Verdict CpuGovernor::verdict(uint32_t max_percent, uint32_t window_ms, uint64_t now_ns) {
    if (max_percent == 0) return Verdict::kFull;
    const uint32_t p = percent(window_ms, now_ns);
    if (p >= max_percent) return Verdict::kOff;
    if (p * 4 >= max_percent * 3) return Verdict::kLowered;
    return Verdict::kFull;
}

}  // namespace lbd::compression
