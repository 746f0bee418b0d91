#include "core/base/histogram.h"

#include <cstdio>

namespace lbd {

void LatencyHistogram::write(std::string& out, const char* name, const std::string& labels) const {
    char line[256];
    uint64_t cumulative = 0;
    std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i <= kBoundsMs.size(); ++i) {
        cumulative += counts_[i].load(std::memory_order_relaxed);
        char le[32];
        if (i < kBoundsMs.size()) std::snprintf(le, sizeof le, "%g", kBoundsMs[i] / 1000.0);
        else std::snprintf(le, sizeof le, "+Inf");
        std::snprintf(line, sizeof line, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels.c_str(), sep.c_str(), le,
                      static_cast<unsigned long long>(cumulative));
        out += line;
    }
    std::string braces = labels.empty() ? "" : "{" + labels + "}";
    std::snprintf(line, sizeof line, "%s_sum%s %.3f\n%s_count%s %llu\n", name, braces.c_str(),
                  sum_ms_.load(std::memory_order_relaxed) / 1000.0, name, braces.c_str(),
                  static_cast<unsigned long long>(cumulative));
    out += line;
}

}  // namespace lbd
