// HTTP syntax that config checks share (the http block, the HTTP health
// check): RFC 9110 tokens and field values, and configured header lines.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "core/config/config_check.h"

namespace lbd::config_check {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// What a configured header may not name: these decide framing or the
// connection, and lbd writes them itself.
bool is_managed_header(const std::string& lower_name) {
    static const char* const kManaged[] = {"content-length", "transfer-encoding", "connection", "keep-alive",
                                           "upgrade",        "te",                "trailer",    "proxy-connection"};
    return std::any_of(std::begin(kManaged), std::end(kManaged), [&](const char* m) { return lower_name == m; });
}

}  // namespace

// RFC 9110 §5.6.2 tchar.
bool is_token(const std::string& s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    });
}

// RFC 9110 §5.5: no CR, LF, NUL or other controls but HTAB; no edge whitespace.
bool is_field_value(const std::string& s) {
    if (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t')) return false;
    return std::none_of(s.begin(), s.end(), [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; });
}

HttpHeaderValue check_header_value(const pb::HeaderValue& msg, Loc at, const char* what, Errors& errors) {
    HttpHeaderValue out{msg.name(), msg.value()};
    if (!is_token(msg.name()))
        errors.add(at, std::string(what) + ": bad header name " + quote(msg.name()));
    else if (is_managed_header(lower(msg.name())))
        errors.add(at, std::string(what) + ": header " + quote(msg.name()) + " is managed by lbd and cannot be set");
    if (!is_field_value(msg.value()))
        errors.add(at, std::string(what) + ": bad value for header " + quote(msg.name()) +
                           " (control characters or edge whitespace)");
    return out;
}

}  // namespace lbd::config_check
