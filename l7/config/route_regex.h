// Regex routes (config.proto RouteMatch.path_regex, host_regex) over PCRE2,
// the library NGINX and HAProxy use. A pattern is compiled once, at load,
// with JIT where the platform has it; a bad one is a config error with
// PCRE2's own message and the offset in the pattern.
//
// Matching needs a pcre2_match_data: one per thread, made on the thread's
// first match and kept (a worker matches one request at a time), so a
// request allocates nothing. Its ovector holds the whole match and 9 groups,
// the $1..$9 of rewrites and redirects.
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/config/config_http.h"

namespace lbd {

struct RouteRegex {
    RouteRegex(pcre2_code* code, uint32_t groups) : code(code), groups(groups) {}
    ~RouteRegex() { pcre2_code_free(code); }
    RouteRegex(const RouteRegex&) = delete;
    RouteRegex& operator=(const RouteRegex&) = delete;
    pcre2_code* code;
    uint32_t groups;  // capture groups in the pattern
};

namespace l7 {

// Offsets of a match's groups in its subject: group n spans
// [start[n], end[n]); an unset group has start == end == 0 (expands to "").
struct RegexGroups {
    static constexpr size_t kMax = 10;  // $0 (the match) and $1..$9
    std::array<uint32_t, kMax> start{};
    std::array<uint32_t, kMax> end{};
    uint8_t count = 0;  // groups set, $0 included; 0 = no regex matched
    bool of_host = false;  // the groups index the host, not the path
};

// The compiled pattern, or null with `error` set ("missing closing
// parenthesis at offset 4").
std::shared_ptr<const RouteRegex> compile_route_regex(const std::string& pattern, bool ignore_case, std::string* error);

// Whether `regex` matches somewhere in `subject`; fills `groups` if given.
// Worker-thread safe: the match data is per thread.
bool regex_match(const RouteRegex& regex, std::string_view subject, RegexGroups* groups);

}  // namespace l7
}  // namespace lbd
