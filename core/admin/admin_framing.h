// Framing of admin messages on the Unix socket: each protobuf message is
// preceded by its length as a varint (protobuf's "delimited" format, the
// same as writeDelimitedTo in other languages). Shared by lbd and lbctl.
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace lbd {

// A response may be big (`stick show` of a full table: 1e6 entries of
// ~60 bytes); a bigger length is a broken peer. What lbctl accepts.
constexpr uint32_t kAdminMaxMessageBytes = 64 * 1024 * 1024;
// What lbd accepts from a client. The largest real request is `stick set`
// (a pool, a server and a key, the key at most a 4 KiB cookie value) or
// `server add` (three names and an address): a few KiB. 64 KiB leaves room,
// while four hostile connections can no longer make lbd buffer 256 MiB.
constexpr uint32_t kAdminMaxRequestBytes = 64 * 1024;

enum class FrameStatus { kComplete, kNeedMore, kInvalid };

struct FrameHeader {
    FrameStatus status = FrameStatus::kNeedMore;
    size_t header_bytes = 0;  // the varint's length
    uint32_t body_bytes = 0;
};

// Looks at the start of `data` for a length prefix; a length above
// `max_body` is kInvalid.
FrameHeader decode_frame_header(const uint8_t* data, size_t len, uint32_t max_body = kAdminMaxMessageBytes);

// The message with its length prefix, ready to write.
std::string encode_frame(const google::protobuf::MessageLite& message);

}  // namespace lbd
