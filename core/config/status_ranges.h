// A set of HTTP status codes written as a list of codes and ranges
// ("200-399", "500,502-504"): what an HTTP health check expects, and what
// passive health counts as a server failure. A plain value type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lbd {

class StatusRanges {
public:
    struct Range {
        uint16_t first;
        uint16_t last;  // inclusive
    };

    StatusRanges() = default;
    // Parses "200", "200-399", "200-299, 304": comma-separated codes and
    // inclusive ranges, each code 100..599. nullopt with `error` set when
    // the text is malformed or empty.
    static std::optional<StatusRanges> parse(std::string_view text, std::string* error);

    bool contains(int status) const {
        for (const Range& r : ranges_)
            if (status >= r.first && status <= r.last) return true;
        return false;
    }
    bool empty() const { return ranges_.empty(); }
    const std::vector<Range>& ranges() const { return ranges_; }
    // Canonical text: "200-399" or "500,502-504".
    std::string to_string() const;

private:
    std::vector<Range> ranges_;
};

}  // namespace lbd
