// A latency histogram with fixed buckets, for Prometheus.
//
// Lock-free: each observation is two relaxed atomic increments (its bucket
// and the sum), so workers record on the data path without contention
// beyond the cache line. Buckets are cumulative only when written out.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace lbd {

class LatencyHistogram {
public:
    // Upper bounds in milliseconds; a last, implicit bucket is +Inf.
    static constexpr std::array<uint32_t, 13> kBoundsMs = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

    void observe(uint64_t ms) {
        size_t i = 0;
        while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        sum_ms_.fetch_add(ms, std::memory_order_relaxed);
    }

    // Appends `name_bucket{labels,le="..."}`, `name_sum` and `name_count`
    // lines (in seconds); `labels` is "k=\"v\",..." or empty.
    void write(std::string& out, const char* name, const std::string& labels) const;

private:
    std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> counts_{};
    std::atomic<uint64_t> sum_ms_{0};
};

}  // namespace lbd
