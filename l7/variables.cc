#include "l7/variables.h"

#include <openssl/rand.h>

namespace lbd::l7 {

void RequestId::generate() {
    static constexpr char kHex[] = "0123456789abcdef";
    unsigned char bytes[16];
    // OpenSSL's DRBG is per thread and seeded; a failure (it cannot, once seeded) would leave zeros, still an id.
    if (RAND_bytes(bytes, sizeof bytes) != 1) std::fill(std::begin(bytes), std::end(bytes), 0);
    for (size_t i = 0; i < sizeof bytes; ++i) {
        text[2 * i] = kHex[bytes[i] >> 4];
        text[2 * i + 1] = kHex[bytes[i] & 0xf];
    }
    size = 32;
}

bool RequestId::take(std::string_view value) {
    if (value.empty() || value.size() > kMaxClientId) return false;
    for (char c : value)
        if (c <= 0x20 || c >= 0x7f) return false;
    std::copy(value.begin(), value.end(), text.begin());
    size = static_cast<uint8_t>(value.size());
    return true;
}

namespace {

void append_variable(HttpVariable v, const VariableSource& s, std::string& out) {
    switch (v) {
        case HttpVariable::kRemoteAddr: out += s.client.peer.ip_string(); break;
        case HttpVariable::kRemotePort: out += std::to_string(s.client.peer.port()); break;
        case HttpVariable::kHost: out += s.request.host; break;
        case HttpVariable::kScheme: out += s.client.scheme; break;
        case HttpVariable::kRequestUri:
            out += s.original_path.empty() ? std::string_view(s.request.path) : s.original_path;
            out += s.request.query;
            break;
        case HttpVariable::kUri: out += s.request.path; break;
        case HttpVariable::kArgs:
            if (!s.request.query.empty()) out.append(s.request.query, 1);
            break;
        case HttpVariable::kRequestId:
            if (s.request_id == nullptr) break;
            if (s.request_id->empty()) s.request_id->generate();
            out += s.request_id->view();
            break;
    }
}

}  // namespace

void expand(const HttpTemplate& t, const VariableSource& source, std::string& out) {
    for (const HttpTemplatePart& part : t.parts) {
        switch (part.kind) {
            case HttpTemplatePart::Kind::kText: out += part.text; break;
            case HttpTemplatePart::Kind::kVariable: append_variable(part.variable, source, out); break;
            case HttpTemplatePart::Kind::kCapture:
                if (source.groups != nullptr && part.capture < source.groups->count) {
                    const uint32_t start = source.groups->start[part.capture];
                    const uint32_t end = source.groups->end[part.capture];
                    if (end <= source.group_subject.size() && start <= end)
                        out += source.group_subject.substr(start, end - start);
                }
                break;
        }
    }
}

std::string header_value(const HttpHeaderValue& h, const VariableSource& source) {
    if (!h.value_template.dynamic()) return h.value;
    std::string out;
    expand(h.value_template, source, out);
    return out;
}

}  // namespace lbd::l7
