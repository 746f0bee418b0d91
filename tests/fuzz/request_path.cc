// Fuzz target: request path normalisation (core/http1/path.h normalize_path). Oracles: the
// result is a fixed point (normalised again it does not change), starts with '/' as its input
// did, holds no empty, "." or ".." segment, no escape of an unreserved character and no '%'
// that starts no escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/http1/path.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }

bool escapes_unreserved(const std::string& path) {
    for (size_t i = 0; i + 2 < path.size(); ++i) {
        if (path[i] != '%' || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) continue;
        const unsigned value = static_cast<unsigned>(std::stoul(path.substr(i + 1, 2), nullptr, 16));
        const bool unreserved = (value >= 'a' && value <= 'z') || (value >= 'A' && value <= 'Z') ||
                                (value >= '0' && value <= '9') || value == '-' || value == '.' || value == '_' ||
                                value == '~';
        if (unreserved) return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::string path = input;
    const bool changed = lbd::http1::normalize_path(path);
    FUZZ_CHECK(changed == (path != input));
    if (input.empty() || input.front() != '/') {
        FUZZ_CHECK(!changed);
        return 0;
    }
    FUZZ_CHECK(!path.empty() && path.front() == '/');
    std::string again = path;
    FUZZ_CHECK(!lbd::http1::normalize_path(again));
    FUZZ_CHECK(again == path);
    FUZZ_CHECK(path.find("//") == std::string::npos);
    FUZZ_CHECK(path.find("/./") == std::string::npos && path.find("/../") == std::string::npos);
    FUZZ_CHECK(!(path.size() >= 2 && path.compare(path.size() - 2, 2, "/.") == 0));
    FUZZ_CHECK(!(path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0));
    FUZZ_CHECK(!escapes_unreserved(path));
    for (size_t i = 0; i < path.size(); ++i)
        if (path[i] == '%') FUZZ_CHECK(i + 2 < path.size() && is_hex(path[i + 1]) && is_hex(path[i + 2]));
    return 0;
}
