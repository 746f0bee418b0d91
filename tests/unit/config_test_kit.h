// What the config loader tests share (config_test.cc, ha_config_test.cc,
// http_config_test.cc): where a needle sits in a config text, and every error
// of a load as one string for a failing check's message.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "core/config/config_loader.h"

namespace lbd::test {

// 1-based line and column where `needle` first appears in `text`.
inline int line_of(const std::string& text, const std::string& needle) {
    size_t at = text.find(needle);
    REQUIRE_MESSAGE(at != std::string::npos, needle);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

inline int column_of(const std::string& text, const std::string& needle) {
    size_t at = text.find(needle);
    REQUIRE_MESSAGE(at != std::string::npos, needle);
    size_t line_start = text.rfind('\n', at);
    return static_cast<int>(at - (line_start == std::string::npos ? 0 : line_start + 1)) + 1;
}

inline std::string all_errors(const ConfigLoadResult& result) {
    std::string out;
    for (const ConfigError& e : result.errors) out += e.to_string() + "\n";
    return out;
}

// Exactly one error, `message`, in test.conf on the line where `at` first appears.
inline void expect_error_on_line(const std::string& text, const std::string& at, const std::string& message) {
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message == message);
    CHECK(result.errors[0].line == line_of(text, at));
    CHECK(result.errors[0].file == "test.conf");
}

}  // namespace lbd::test
