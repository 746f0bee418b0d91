#include "l7/config/route_regex.h"

namespace lbd::l7 {
namespace {

struct MatchDataFree {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

// One per thread for the thread's life: a worker matches one request at a time.
pcre2_match_data* thread_match_data() {
    thread_local std::unique_ptr<pcre2_match_data, MatchDataFree> data(
        pcre2_match_data_create(static_cast<uint32_t>(RegexGroups::kMax), nullptr));
    return data.get();
}

}  // namespace

std::shared_ptr<const RouteRegex> compile_route_regex(const std::string& pattern, bool ignore_case, std::string* error) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    // UTF off: paths are bytes (percent-encoded), and a non-UTF-8 request must not make a match fail.
    const uint32_t options = ignore_case ? PCRE2_CASELESS : 0;
    pcre2_code* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &code,
                                         &offset, nullptr);
    if (compiled == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(code, message, sizeof message);
        *error = std::string(reinterpret_cast<const char*>(message)) + " at offset " + std::to_string(offset);
        return nullptr;
    }
    // Without JIT support (some architectures) the interpreter runs the same pattern: not an error.
    pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE);
    uint32_t groups = 0;
    pcre2_pattern_info(compiled, PCRE2_INFO_CAPTURECOUNT, &groups);
    return std::make_shared<const RouteRegex>(compiled, groups);
}

bool regex_match(const RouteRegex& regex, std::string_view subject, RegexGroups* groups) {
    pcre2_match_data* data = thread_match_data();
    const int rc = pcre2_match(regex.code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, data,
                               nullptr);
    if (rc < 0) return false;  // PCRE2_ERROR_NOMATCH, or a match limit hit: not a match either way
    if (groups == nullptr) return true;
    // rc == 0: more groups than the ovector holds; the first kMax are set.
    const size_t set = rc == 0 ? RegexGroups::kMax : static_cast<size_t>(rc);
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    *groups = RegexGroups{};
    for (size_t i = 0; i < set && i < RegexGroups::kMax; ++i) {
        if (ovector[2 * i] == PCRE2_UNSET) continue;
        groups->start[i] = static_cast<uint32_t>(ovector[2 * i]);
        groups->end[i] = static_cast<uint32_t>(ovector[2 * i + 1]);
    }
    groups->count = static_cast<uint8_t>(std::min(set, RegexGroups::kMax));
    return true;
}

}  // namespace lbd::l7
