#include "core/admin/admin_framing.h"

namespace lbd {

FrameHeader decode_frame_header(const uint8_t* data, size_t len, uint32_t max_body) {
    FrameHeader out;
    uint64_t value = 0;
    // A varint of a 32-bit length takes at most 5 bytes, 7 bits each.
    for (size_t i = 0; i < 5; ++i) {
        if (i == len) return out;  // kNeedMore
        value |= static_cast<uint64_t>(data[i] & 0x7f) << (7 * i);
        if ((data[i] & 0x80) == 0) {
            if (value > max_body) break;
            out.status = FrameStatus::kComplete;
            out.header_bytes = i + 1;
            out.body_bytes = static_cast<uint32_t>(value);
            return out;
        }
    }
    out.status = FrameStatus::kInvalid;
    return out;
}

std::string encode_frame(const google::protobuf::MessageLite& message) {
    std::string body = message.SerializeAsString();
    std::string out;
    uint32_t n = static_cast<uint32_t>(body.size());
    while (n >= 0x80) {
        out.push_back(static_cast<char>((n & 0x7f) | 0x80));
        n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    out += body;
    return out;
}

}  // namespace lbd
