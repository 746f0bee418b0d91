#include "core/config/status_ranges.h"

#include <charconv>

#include "core/http1/chars.h"

namespace lbd {

namespace {

// Exactly three digits, 100..599 (RFC 9110 §15: the first digit is the class).
std::optional<uint16_t> parse_code(std::string_view s) {
    s = http1::trim_ows(s);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || s.size() != 3 || value < 100 || value > 599)
        return std::nullopt;
    return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<StatusRanges> StatusRanges::parse(std::string_view text, std::string* error) {
    StatusRanges out;
    if (http1::trim_ows(text).empty()) {
        *error = "empty status list";
        return std::nullopt;
    }
    while (true) {
        const size_t comma = text.find(',');
        const std::string_view item = http1::trim_ows(text.substr(0, comma));
        const size_t dash = item.find('-');
        auto first = parse_code(item.substr(0, dash));
        auto last = dash == std::string_view::npos ? first : parse_code(item.substr(dash + 1));
        if (!first || !last) {
            *error = "bad status '" + std::string(item) + "': expected a code 100..599 or a range like 200-399";
            return std::nullopt;
        }
        if (*last < *first) {
            *error = "bad status range '" + std::string(item) + "': the first code is above the last";
            return std::nullopt;
        }
        out.ranges_.push_back({*first, *last});
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

std::string StatusRanges::to_string() const {
    std::string out;
    for (const Range& r : ranges_) {
        if (!out.empty()) out += ',';
        out += std::to_string(r.first);
        if (r.last != r.first) out += "-" + std::to_string(r.last);
    }
    return out;
}

}  // namespace lbd
