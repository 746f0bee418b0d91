#include "l7/access_log.h"

#include <cstdio>

#include "core/base/json.h"

namespace lbd::l7 {

namespace {

// Text: bytes outside visible ASCII, and '"', '\\', '%' become %XX; "-" for empty.
std::string text_safe(const std::string& s) {
    if (s.empty()) return "-";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%') {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}


// Client-supplied text may be any bytes: escape past ASCII so the line stays valid JSON.
std::string quote(const std::string& s) { return json_quote(s, JsonBytes::kAscii); }

std::string ms(int64_t v) { return v < 0 ? "-" : std::to_string(v); }

}  // namespace

std::string format_access_text(const AccessRecord& r) {
    return "http listener=" + r.listener + " client=" + r.client + " host=" + text_safe(r.host) +
           " method=" + text_safe(r.method) + " path=" + text_safe(r.path) + " status=" +
           (r.status == 0 ? "-" : std::to_string(r.status)) + " in=" + std::to_string(r.bytes_in) +
           " out=" + std::to_string(r.bytes_out) + " server=" + r.server + " route=" + text_safe(r.route) +
           " time_ms=" + std::to_string(r.time_ms) + " connect_ms=" + ms(r.connect_ms) +
           " conn=" + r.conn + " header_ms=" + ms(r.header_ms) + " term=" + r.term +
           (r.reason.empty() ? "" : " reason=" + text_safe(r.reason)) +
           (r.protocol.empty() ? "" : " proto=" + r.protocol) +
           (r.tls_version.empty() ? "" : " tls=" + r.tls_version + " sni=" + text_safe(r.sni)) +
           (r.request_id.empty() ? "" : " request_id=" + text_safe(r.request_id)) +
           (r.cache.empty() ? "" : " cache=" + text_safe(r.cache));
}

std::string format_access_json(const AccessRecord& r) {
    auto num = [](int64_t v) { return v < 0 ? std::string("null") : std::to_string(v); };
    return "http {\"listener\":" + quote(r.listener) + ",\"client\":" + quote(r.client) +
           ",\"host\":" + quote(r.host) + ",\"method\":" + quote(r.method) +
           ",\"path\":" + quote(r.path) + ",\"status\":" + num(r.status == 0 ? -1 : r.status) +
           ",\"bytes_in\":" + std::to_string(r.bytes_in) + ",\"bytes_out\":" + std::to_string(r.bytes_out) +
           ",\"server\":" + quote(r.server) + ",\"route\":" + quote(r.route) +
           ",\"time_ms\":" + std::to_string(r.time_ms) + ",\"connect_ms\":" + num(r.connect_ms) +
           ",\"conn\":" + quote(r.conn) +
           ",\"header_ms\":" + num(r.header_ms) + ",\"term\":" + quote(r.term) +
           (r.reason.empty() ? "" : ",\"reason\":" + quote(r.reason)) +
           (r.protocol.empty() ? "" : ",\"proto\":" + quote(r.protocol)) +
           (r.tls_version.empty() ? "" : ",\"tls\":" + quote(r.tls_version) + ",\"sni\":" + quote(r.sni)) +
           (r.request_id.empty() ? "" : ",\"request_id\":" + quote(r.request_id)) +
           (r.cache.empty() ? "" : ",\"cache\":" + quote(r.cache)) + "}";
}

}  // namespace lbd::l7
