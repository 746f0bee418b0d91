// Fuzz target: the HA peer-sync codec (ha/sync_codec.h). The input is a frame payload; the target
// frames it with a valid MAC under a fixed key (random bytes would never pass the MAC, and what an
// attacker without the key sends is the second case below). Oracles:
//  - decode -> encode -> decode is stable: an accepted message, framed again by FrameWriter,
//    decodes to a message with the same serialization, and framing that one gives the same bytes;
//  - the frame sent twice is a replay; the reader stays failed after any error;
//  - the raw input fed as a byte stream (no key) is never accepted as a message;
//  - a preamble that decodes is exactly what encode_preamble writes for its nonce.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ha/sync_codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace lbd;
using Status = ha::FrameReader::Result::Status;

// The sequence number 1 and the payload, framed and MACed as FrameWriter does.
std::string frame_of(const ha::MacKey& key, std::string_view payload) {
    std::string frame;
    const uint64_t length = payload.size();
    for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(length >> shift));
    frame.append(7, '\0');
    frame.push_back('\1');
    frame.append(payload);
    const auto mac = ha::FrameMac(key).compute(std::string_view(frame).substr(4));
    FUZZ_CHECK(mac.has_value());
    frame.append(reinterpret_cast<const char*>(mac->data()), mac->size());
    return frame;
}

// Feeds `bytes` 5 at a time (a frame split across reads) and returns the first result that is
// not kNeedMore, or kNeedMore.
ha::FrameReader::Result read_one(ha::FrameReader& reader, std::string_view bytes) {
    for (size_t at = 0; at < bytes.size(); at += 5) {
        reader.feed(bytes.substr(at, 5));
        ha::FrameReader::Result r = reader.next();
        if (r.status != Status::kNeedMore) return r;
    }
    return {};
}

void check_round_trip(const ha::MacKey& key, const lbd::v1::SyncMessage& message) {
    ha::FrameWriter writer(key);
    const auto framed = writer.encode(message);
    if (!framed) return;  // over kMaxPayloadBytes: cannot happen for fuzz-sized inputs, but allowed
    FUZZ_CHECK(writer.last_sequence() == 1);
    ha::FrameReader reader(key);
    const ha::FrameReader::Result again = read_one(reader, *framed);
    FUZZ_CHECK(again.status == Status::kMessage && again.sequence == 1);
    FUZZ_CHECK(again.message.SerializeAsString() == message.SerializeAsString());
    const auto reframed = ha::FrameWriter(key).encode(again.message);
    FUZZ_CHECK(reframed && *reframed == *framed);
}

void check_preamble(std::string_view input) {
    const ha::PreambleResult preamble = ha::decode_preamble(input);
    if (preamble.status != ha::PreambleResult::Status::kDone) return;
    FUZZ_CHECK(preamble.consumed == ha::kPreambleBytes);
    FUZZ_CHECK(ha::encode_preamble(preamble.nonce) == input.substr(0, ha::kPreambleBytes));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    ha::MacKey key{};
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(i * 7 + 1);

    const std::string frame = frame_of(key, input);
    ha::FrameReader reader(key);
    const ha::FrameReader::Result first = read_one(reader, frame);
    FUZZ_CHECK(first.status != Status::kNeedMore);
    if (first.status == Status::kMessage) {
        FUZZ_CHECK(first.sequence == 1);
        check_round_trip(key, first.message);
        const ha::FrameReader::Result replayed = read_one(reader, frame);
        FUZZ_CHECK(replayed.status == Status::kError && replayed.error == ha::FrameError::kReplay);
    } else {
        FUZZ_CHECK(first.error == ha::FrameError::kMalformed);
    }
    // Failed (by the replay or the malformed payload): stays failed, whatever comes next.
    const ha::FrameReader::Result after = read_one(reader, frame_of(key, input));
    FUZZ_CHECK(after.status == Status::kError);

    // The raw bytes from someone without the key.
    ha::FrameReader stranger(key);
    stranger.feed(input);
    for (ha::FrameReader::Result r = stranger.next(); r.status != Status::kNeedMore; r = stranger.next()) {
        FUZZ_CHECK(r.status == Status::kError);
        break;
    }
    check_preamble(input);
    return 0;
}
