// Fuzz target: the admin socket's framing (core/admin/admin_framing.h) and the request it carries, read
// the way core/admin/admin_server.cc reads a connection's bytes: a varint length, then an AdminRequest.
// Oracles:
//  - a complete header is 1..5 bytes and never announces more than kAdminMaxMessageBytes; a
//    header that needs more never has 5 bytes in hand;
//  - decode -> encode -> decode is stable: an AdminRequest that parses, framed by encode_frame,
//    gives back a header for exactly its body and the same message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/admin/admin_framing.h"
#include "lbd/v1/admin.pb.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace lbd;

void check_round_trip(const lbd::v1::AdminRequest& request) {
    const std::string framed = encode_frame(request);
    const auto* bytes = reinterpret_cast<const uint8_t*>(framed.data());
    const FrameHeader header = decode_frame_header(bytes, framed.size());
    FUZZ_CHECK(header.status == FrameStatus::kComplete);
    FUZZ_CHECK(header.header_bytes + header.body_bytes == framed.size());
    lbd::v1::AdminRequest again;
    FUZZ_CHECK(again.ParseFromArray(bytes + header.header_bytes, static_cast<int>(header.body_bytes)));
    FUZZ_CHECK(again.SerializeAsString() == request.SerializeAsString());
    FUZZ_CHECK(encode_frame(again) == framed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    size_t at = 0;
    while (at < size) {
        const FrameHeader header = decode_frame_header(data + at, size - at);
        if (header.status == FrameStatus::kInvalid) break;
        if (header.status == FrameStatus::kNeedMore) {
            FUZZ_CHECK(size - at < 5);
            break;
        }
        FUZZ_CHECK(header.header_bytes >= 1 && header.header_bytes <= 5);
        FUZZ_CHECK(header.body_bytes <= kAdminMaxMessageBytes);
        const size_t total = header.header_bytes + header.body_bytes;
        if (size - at < total) break;  // the server waits for the rest
        lbd::v1::AdminRequest request;
        if (request.ParseFromArray(data + at + header.header_bytes, static_cast<int>(header.body_bytes)))
            check_round_trip(request);
        at += total;
    }
    return 0;
}
