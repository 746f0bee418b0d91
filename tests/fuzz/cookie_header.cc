// Fuzz target: the cookie parser (l7/cookie_header.h). Input lines: the cookie name lbd looks for,
// another cookie name, a value for lbd's own Set-Cookie, then header lines "Field: value" (Cookie,
// Set-Cookie, anything). Oracles:
//  - after remove_request_cookie(name), request_cookie(name) finds nothing; removing again changes
//    nothing; every other cookie reads the same as before, and no empty Cookie header is left;
//  - write -> read is stable: a Set-Cookie written by insert_cookie_value, read back by
//    response_set_cookie, gives the value written (for a name and value a server could send).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "l7/cookie_header.h"
#include "l7/http1.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace lbd;

std::string_view next_line(std::string_view& rest) {
    const size_t lf = rest.find('\n');
    const std::string_view line = rest.substr(0, lf);
    rest = lf == std::string_view::npos ? std::string_view() : rest.substr(lf + 1);
    return line;
}

l7::HeaderList headers_of(std::string_view rest) {
    l7::HeaderList headers;
    while (!rest.empty()) {
        const std::string_view line = next_line(rest);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        headers.emplace_back(std::string(line.substr(0, colon)), std::string(l7::trim_ows(line.substr(colon + 1))));
    }
    return headers;
}

size_t empty_cookie_headers(const l7::HeaderList& headers) {
    size_t count = 0;
    for (const auto& [field, value] : headers) count += l7::iequals(field, "cookie") && l7::trim_ows(value).empty();
    return count;
}

void check_removal(const l7::HeaderList& headers, std::string_view name, std::string_view other) {
    l7::HeaderList removed = headers;
    l7::remove_request_cookie(removed, name);
    FUZZ_CHECK(!l7::request_cookie(removed, name).has_value());
    if (other != name) FUZZ_CHECK(l7::request_cookie(removed, other) == l7::request_cookie(headers, other));
    // A header the removal emptied goes: the only empty Cookie headers left are ones sent empty.
    FUZZ_CHECK(empty_cookie_headers(removed) <= empty_cookie_headers(headers));
    l7::HeaderList twice = removed;
    l7::remove_request_cookie(twice, name);
    FUZZ_CHECK(twice == removed);
}

// A name or value as lbd writes them: no separator, no space at either end, not quoted.
bool plain(std::string_view text, bool is_name) {
    if (text.find_first_of(is_name ? ";=\t " : ";") != std::string_view::npos) return false;
    if (text != l7::trim_ows(text)) return false;
    return !(text.size() >= 2 && text.front() == '"' && text.back() == '"');
}

void check_set_cookie_round_trip(std::string_view name, std::string_view value) {
    if (name.empty() || !plain(name, true) || !plain(value, false)) return;
    CookieStickinessConfig config;
    config.name = std::string(name);
    config.max_age_s = 60;
    const l7::HeaderList headers = {{"Set-Cookie", l7::insert_cookie_value(config, value)}};
    const auto seen = l7::response_set_cookie(headers, name);
    FUZZ_CHECK(seen.has_value());
    FUZZ_CHECK(seen->value == value);
    FUZZ_CHECK(seen->deleted == value.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    const std::string_view name = next_line(rest);
    const std::string_view other = next_line(rest);
    const std::string_view value = next_line(rest);
    const l7::HeaderList headers = headers_of(rest);

    check_removal(headers, name, other);
    const auto seen = l7::response_set_cookie(headers, name);
    if (seen && !seen->value.empty()) FUZZ_CHECK(seen->value.find(';') == std::string::npos);
    check_set_cookie_round_trip(name, value);
    return 0;
}
