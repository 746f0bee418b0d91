// Fuzz target: the body decoder (core/http1/body.h), chunked above all. Oracles:
//  - the split never matters: whole input, byte by byte and 3 bytes at a time give the same data,
//    status, error and consumed count (the decoder's own promise, see BodyResult::data);
//  - a kMore result on non-empty input always consumed something (a caller's loop progresses);
//  - body_bytes() counts exactly the data handed out, and never passes max_body_bytes;
//  - a decoded chunked body, framed again as one chunk, decodes to the same bytes.
// Input: one byte choosing framing and limits, then the body bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "l7/http1.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace lbd;

struct Outcome {
    std::string data;
    l7::BodyStatus status = l7::BodyStatus::kMore;
    l7::HttpError error = l7::HttpError::kNone;
    size_t consumed = 0;
    uint64_t body_bytes = 0;

    bool operator==(const Outcome&) const = default;
};

struct Mode {
    l7::BodyFraming framing = l7::BodyFraming::kChunked;
    uint64_t content_length = 0;
    l7::HttpLimits limits;
};

// bits 0-1: chunked (twice as likely), Content-Length, until close; bit 2: a 100-byte body limit;
// bit 3: no trailer field allowed, else at most 64 bytes of them; bits 4-7: Content-Length / 4.
Mode mode_of(uint8_t selector) {
    Mode mode;
    const l7::BodyFraming framings[] = {l7::BodyFraming::kChunked, l7::BodyFraming::kChunked,
                                        l7::BodyFraming::kContentLength, l7::BodyFraming::kUntilClose};
    mode.framing = framings[selector & 3];
    mode.content_length = (selector >> 4) * 4u;
    mode.limits.max_body_bytes = (selector & 4) != 0 ? 100 : 0;
    mode.limits.max_trailer_bytes = (selector & 8) != 0 ? 0 : 64;
    return mode;
}

Outcome decode_in_pieces(const Mode& mode, std::string_view input, size_t piece_size) {
    l7::BodyDecoder decoder(mode.framing, mode.content_length, mode.limits);
    Outcome out;
    for (size_t at = 0; at < input.size() && out.status == l7::BodyStatus::kMore; at += piece_size) {
        std::string_view piece = input.substr(at, piece_size);
        while (!piece.empty()) {
            const l7::BodyResult r = decoder.decode(piece);
            out.data.append(r.data);
            out.consumed += r.consumed;
            out.status = r.status;
            out.error = r.error;
            FUZZ_CHECK(r.consumed <= piece.size());
            if (r.status != l7::BodyStatus::kMore) break;
            FUZZ_CHECK(r.consumed > 0);
            piece.remove_prefix(r.consumed);
        }
    }
    if (out.status == l7::BodyStatus::kMore) {
        const l7::BodyResult end = decoder.finish();
        FUZZ_CHECK(end.status != l7::BodyStatus::kMore);
        out.status = end.status;
        out.error = end.error;
    }
    FUZZ_CHECK((out.status == l7::BodyStatus::kError) == (out.error != l7::HttpError::kNone));
    out.body_bytes = decoder.body_bytes();
    FUZZ_CHECK(out.body_bytes == out.data.size());
    return out;
}

std::string as_one_chunk(std::string_view data) {
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    std::string framed = size_line;
    framed.append(data);
    framed += data.empty() ? "\r\n" : "\r\n0\r\n\r\n";
    return framed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const Mode mode = mode_of(data[0]);
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

    const Outcome whole = decode_in_pieces(mode, body, body.size() + 1);
    FUZZ_CHECK(decode_in_pieces(mode, body, 1) == whole);
    FUZZ_CHECK(decode_in_pieces(mode, body, 3) == whole);
    if (mode.limits.max_body_bytes != 0) FUZZ_CHECK(whole.body_bytes <= mode.limits.max_body_bytes);

    if (mode.framing == l7::BodyFraming::kChunked && whole.status == l7::BodyStatus::kDone) {
        const Outcome again = decode_in_pieces(mode, as_one_chunk(whole.data), 7);
        FUZZ_CHECK(again.status == l7::BodyStatus::kDone);
        FUZZ_CHECK(again.data == whole.data);
    }
    return 0;
}
