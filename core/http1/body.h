// The incremental body decoder (RFC 9112 §6.3, §7.1): Content-Length, chunked with trailers, and
// until-close. It takes whatever bytes arrived, in any split, and hands back views of the body
// data in them without copying, plus how many input bytes it used.
//
// A proxy that forwards the chunked framing unchanged sends the consumed bytes as they are (the
// decoder has checked them); one that removes it sends only the data views. Trailer fields are
// checked like header fields (§7.1.2, RFC 9110 §6.5) and bounded, then skipped: RFC 9110 §6.5.1
// lets a recipient that removes the chunked coding discard them.
//
// Chunk sizes follow the grammar to the letter: 1*HEXDIG, so leading zeros ("0005") are fine, but
// no sign, no "0x", no whitespace except the BWS §7.1.1 allows before ';' and around '=', and at
// most 2^63-1. The size line is bounded by kMaxChunkLineBytes, and a chunk that would take the
// body past max_body_bytes fails on its size line, before its data arrives.
//
// Not thread-safe: one decoder belongs to one message on one connection.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/http1/parser.h"
#include "core/http1/types.h"

namespace lbd::http1 {

enum class BodyStatus : uint8_t {
    // The body goes on. Call again with input.substr(consumed): at once if bytes are left (the
    // decoder returns after each data view, so a buffer with several chunks takes several calls),
    // otherwise when more arrive.
    kMore,
    // The body (trailers included) ended at input[consumed]; what follows is the next message.
    kDone,
    // `error` says why; the connection cannot be used for another message.
    kError,
};

struct BodyResult {
    BodyStatus status = BodyStatus::kMore;
    // Body bytes found in this call: a view into the input (possibly empty). With kError too: the
    // bytes that came before the fault, which a caller feeding smaller pieces would already have
    // received, so the result never depends on the split.
    std::string_view data;
    // Input bytes used: data plus framing. Greater than 0 whenever the input was not empty and the
    // status is kMore, so a caller looping on kMore always makes progress.
    size_t consumed = 0;
    HttpError error = HttpError::kNone;
};

class BodyDecoder {
public:
    // A decoder for no body: done at once.
    BodyDecoder() = default;
    // `content_length` is read for kContentLength only. Of `limits`, max_body_bytes (0 = none) and
    // max_trailer_bytes are used; they are copied.
    BodyDecoder(BodyFraming framing, uint64_t content_length, const HttpLimits& limits);
    // The body of a parsed head.
    BodyDecoder(const HttpHead& head, const HttpLimits& limits)
        : BodyDecoder(head.framing, head.content_length, limits) {}

    BodyResult decode(std::string_view input);
    // The peer closed its side: kDone for an until-close body or one already finished, otherwise
    // kError / kTruncatedBody.
    BodyResult finish();

    bool done() const { return state_ == State::kDone; }
    // Body data bytes decoded so far (framing excluded).
    uint64_t body_bytes() const { return body_bytes_; }

private:
    // Chunked states follow the grammar of §7.1, with BWS as §7.1.1 places it:
    //   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
    //   chunk-ext  = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string
    //   last-chunk = 1*("0") [ chunk-ext ] CRLF, then trailer-section CRLF
    // The order matters: step() tests kSizeFirst..kSizeLineLf and kTrailerLineStart..kTrailerEndLf
    // as ranges.
    enum class State : uint8_t {
        kLength,            // Content-Length data
        kUntilClose,        // everything is data
        kSizeFirst,         // first hex digit of a chunk size
        kSize,              // more hex digits, BWS, ';' or CR
        kExtBws,            // whitespace after the size or a value: more, or ';'
        kExtNameStart,      // after ';': BWS or the first name character
        kExtName,           // name characters, BWS, '=', ';' or CR
        kExtAfterName,      // whitespace after a name: more, '=' or ';'
        kExtValueStart,     // after '=': BWS, '"' or a token character
        kExtToken,          // token value characters, BWS, ';' or CR
        kExtQuoted,         // inside a quoted-string
        kExtQuotedPair,     // after a backslash in a quoted-string
        kExtAfterQuoted,    // after the closing quote: BWS, ';' or CR
        kSizeLineLf,        // CR of the size line seen, LF expected
        kData,              // chunk data
        kDataCr,            // CRLF after the chunk data
        kDataLf,
        kTrailerLineStart,  // a trailer field line, or the final CRLF
        kTrailerName,
        kTrailerNameOws,    // whitespace after a trailer name: only ':' makes it a known error
        kTrailerValue,
        kTrailerLineLf,     // CR of a trailer line seen
        kTrailerEndLf,      // CR of the final empty line seen
        kDone,
        kError,
    };

    // Consumes one framing byte; returns false and sets error_ on an error.
    bool step(char c);
    bool fail(HttpError error);
    bool end_size();

    State state_ = State::kDone;
    HttpError error_ = HttpError::kNone;
    uint64_t remaining_ = 0;   // kLength: body bytes left; chunked: bytes left of this chunk
    uint64_t body_bytes_ = 0;
    uint64_t max_body_bytes_ = 0;
    size_t max_trailer_bytes_ = 0;
    size_t line_bytes_ = 0;    // bytes of the current size line, or of the trailer section
};

}  // namespace lbd::http1
