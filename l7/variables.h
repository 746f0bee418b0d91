// Expanding the templates of config_http.h (parsed at load by
// l7/config/http_template.h): header values with $host, $request_id ...,
// rewrite_path and redirect locations with $1..$9 too. Appends to a string
// the caller owns; reads nothing but its inputs.
//
// Request ids: 128 bits from OpenSSL's per-thread DRBG as 32 hex digits, or
// the one a trusted client sent (http.request_id.keep_trusted). Held in the
// Exchange in a fixed buffer: no allocation per request.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config/config_http.h"
#include "l7/config/route_regex.h"
#include "l7/http_message.h"

namespace lbd::l7 {

struct RequestId {
    static constexpr size_t kMaxClientId = 128;
    std::array<char, kMaxClientId> text{};
    uint8_t size = 0;  // 0 = none yet
    std::string_view view() const { return {text.data(), size}; }
    bool empty() const { return size == 0; }
    // A new random id.
    void generate();
    // Takes `value` if it is 1..128 visible ASCII characters; whether it did.
    bool take(std::string_view value);
};

// What variables read. `original_path`: the path before the route rewrote it
// ($request_uri, and the subject of path-regex groups).
struct VariableSource {
    const RequestInfo& request;
    const ClientEndpoint& client;
    std::string_view original_path;
    const RegexGroups* groups = nullptr;  // null or count 0: $N expands to ""
    std::string_view group_subject;       // the path or host the groups index
    RequestId* request_id = nullptr;      // made on first use when empty; null: $request_id is ""
};

void expand(const HttpTemplate& t, const VariableSource& source, std::string& out);

// The value of header action `h`: as written, or expanded.
std::string header_value(const HttpHeaderValue& h, const VariableSource& source);

}  // namespace lbd::l7
