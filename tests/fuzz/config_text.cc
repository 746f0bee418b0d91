// Fuzz target: the config text loader (core/config/config_loader.h load_config_text), protobuf text
// format plus every semantic check. Oracles:
//  - a config comes back exactly when there is no error;
//  - every error names the file, has a line >= 0 (0 = not tied to a line) within the text, a
//    column >= 0 and a message;
//  - loading is deterministic: the same text gives the same errors, in the same order.
// Paths in the text (certificates, key files) are looked up like any config's; the corpus holds
// none that exist.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config_loader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

std::vector<std::string> error_lines(const lbd::ConfigLoadResult& result) {
    std::vector<std::string> lines;
    for (const lbd::ConfigError& error : result.errors) lines.push_back(error.to_string());
    return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string name = "fuzz.conf";
    const lbd::ConfigLoadResult result = lbd::load_config_text(text, name);
    FUZZ_CHECK(result.config.has_value() == result.errors.empty());
    // A line past the last one would send an editor nowhere.
    const int text_lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    for (const lbd::ConfigError& error : result.errors) {
        FUZZ_CHECK(error.file == name);
        FUZZ_CHECK(error.line >= 0 && error.line <= text_lines);
        FUZZ_CHECK(error.column >= 0);
        FUZZ_CHECK(!error.message.empty());
    }
    FUZZ_CHECK(error_lines(lbd::load_config_text(text, name)) == error_lines(result));
    return 0;
}
