// Framing of admin messages on the Unix socket: each protobuf message is
// preceded by its length as a varint (protobuf's "delimited" format, the
// same as writeDelimitedTo in other languages). Shared by lbd and lbctl.
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace lbd {

// Admin messages are small; a bigger length is a broken or hostile peer.
constexpr uint32_t kAdminMaxMessageBytes = 64 * 1024 * 1024;

enum class FrameStatus { kComplete, kNeedMore, kInvalid };

struct FrameHeader {
    FrameStatus status = FrameStatus::kNeedMore;
    size_t header_bytes = 0;  // the varint's length
    uint32_t body_bytes = 0;
};

// Looks at the start of `data` for a length prefix.
FrameHeader decode_frame_header(const uint8_t* data, size_t len);

// The message with its length prefix, ready to write.
std::string encode_frame(const google::protobuf::MessageLite& message);

}  // namespace lbd
