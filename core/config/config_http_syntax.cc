// A configured header line, as the http block and the HTTP health check write
// them: a token name (RFC 9110 §5.6.2, from core/http1), a field value
// (§5.5), and never a header that lbd manages itself.
#include <algorithm>
#include <string>

#include "core/config/config_check.h"

namespace lbd::config_check {
namespace {

// What a configured header may not name: these decide framing or the
// connection, and lbd writes them itself.
bool is_managed_header(const std::string& lower_name) {
    static const char* const kManaged[] = {"content-length", "transfer-encoding", "connection", "keep-alive",
                                           "upgrade",        "te",                "trailer",    "proxy-connection"};
    return std::any_of(std::begin(kManaged), std::end(kManaged), [&](const char* m) { return lower_name == m; });
}

}  // namespace

HttpHeaderValue check_header_value(const pb::HeaderValue& msg, Loc at, const char* what, Errors& errors) {
    HttpHeaderValue out;
    out.name = msg.name();
    out.value = msg.value();
    if (!is_token(msg.name()))
        errors.add(at, std::string(what) + ": bad header name " + quote(msg.name()));
    else if (is_managed_header(http1::lower_ascii(msg.name())))
        errors.add(at, std::string(what) + ": header " + quote(msg.name()) + " is managed by lbd and cannot be set");
    if (!is_field_value(msg.value()))
        errors.add(at, std::string(what) + ": bad value for header " + quote(msg.name()) +
                           " (control characters or edge whitespace)");
    return out;
}

}  // namespace lbd::config_check
