// Body decoding, one byte of framing at a time and whole spans of data at once. Section numbers
// are RFC 9112's.
//
// Chunked, as the states run:
//
//   kSizeFirst -> kSize --CR--> kSizeLineLf --LF, size > 0--> kData -> kDataCr -> kDataLf -+
//        ^          | BWS / ';'       ^                                                      |
//        |          v                 |                                                      |
//        |   kExt* (extensions) --CR--+                                                      |
//        +-------------------------------------------------------------------------------- +
//   kSizeLineLf --LF, size 0--> kTrailerLineStart --CR--> kTrailerEndLf --LF--> kDone
//                                 | name ':' value CR LF (kTrailerName, kTrailerValue, kTrailerLineLf)
//                                 +<----------------+
//
// Every state decides on the byte in hand alone, so how the input is split never changes the
// result.
#include "core/http1/body.h"

#include <algorithm>

#include "core/http1/chars.h"

namespace lbd::http1 {

BodyDecoder::BodyDecoder(BodyFraming framing, uint64_t content_length, const HttpLimits& limits)
    : max_body_bytes_(limits.max_body_bytes), max_trailer_bytes_(limits.max_trailer_bytes) {
    switch (framing) {
        case BodyFraming::kNone:
            state_ = State::kDone;
            break;
        case BodyFraming::kContentLength:
            state_ = State::kLength;
            remaining_ = content_length;
            if (content_length > kMaxBodyLength) {
                fail(HttpError::kContentLengthOverflow);
            } else if (max_body_bytes_ != 0 && content_length > max_body_bytes_) {
                fail(HttpError::kBodyTooLarge);
            } else if (content_length == 0) {
                state_ = State::kDone;
            }
            break;
        case BodyFraming::kChunked:
            state_ = State::kSizeFirst;
            break;
        case BodyFraming::kUntilClose:
            state_ = State::kUntilClose;
            break;
    }
}

bool BodyDecoder::fail(HttpError error) {
    state_ = State::kError;
    error_ = error;
    return false;
}

// The size line's digits ended: the chunk size is known, so the limit is checked before any of
// its data arrives.
bool BodyDecoder::end_size() {
    if (max_body_bytes_ != 0 && remaining_ > max_body_bytes_ - body_bytes_) return fail(HttpError::kBodyTooLarge);
    return true;
}

BodyResult BodyDecoder::decode(std::string_view input) {
    BodyResult r;
    size_t pos = 0;
    const size_t n = input.size();
    while (pos < n && state_ != State::kDone && state_ != State::kError) {
        const bool data_state = state_ == State::kLength || state_ == State::kData || state_ == State::kUntilClose;
        if (!data_state) {
            if (!step(input[pos])) break;
            ++pos;
            continue;
        }
        // One view per call: a second stretch of data is not contiguous with the first.
        if (!r.data.empty()) break;
        size_t take = n - pos;
        if (state_ == State::kUntilClose) {
            // Data up to the limit is handed out, the byte past it is the error: the same
            // whatever the split.
            if (max_body_bytes_ != 0) {
                uint64_t room = max_body_bytes_ - body_bytes_;
                if (room == 0) {
                    fail(HttpError::kBodyTooLarge);
                    break;
                }
                take = static_cast<size_t>(std::min<uint64_t>(take, room));
            }
        } else {
            take = static_cast<size_t>(std::min<uint64_t>(take, remaining_));
            remaining_ -= take;
            if (remaining_ == 0) state_ = state_ == State::kLength ? State::kDone : State::kDataCr;
        }
        r.data = input.substr(pos, take);
        body_bytes_ += take;
        pos += take;
    }

    r.consumed = pos;
    if (state_ == State::kError) {
        r.status = BodyStatus::kError;
        r.error = error_;
    } else if (state_ == State::kDone) {
        r.status = BodyStatus::kDone;
    }
    return r;
}

BodyResult BodyDecoder::finish() {
    BodyResult r;
    // §6.3 item 8: for an until-close body the close is the end. Anywhere else it cuts the body
    // short (§8: "incomplete message").
    if (state_ == State::kUntilClose) state_ = State::kDone;
    if (state_ == State::kDone) {
        r.status = BodyStatus::kDone;
        return r;
    }
    if (state_ != State::kError) fail(HttpError::kTruncatedBody);
    r.status = BodyStatus::kError;
    r.error = error_;
    return r;
}

bool BodyDecoder::step(char c) {
    const bool in_size_line = state_ >= State::kSizeFirst && state_ <= State::kSizeLineLf;
    if (in_size_line) {
        if (++line_bytes_ > kMaxChunkLineBytes) return fail(HttpError::kChunkLineTooLong);
        if (c == '\n' && state_ != State::kSizeLineLf) return fail(HttpError::kBareLf);
    } else if (state_ >= State::kTrailerLineStart && state_ <= State::kTrailerLineLf &&
               !(state_ == State::kTrailerLineStart && c == '\r')) {
        // Field lines count, the final empty line does not: a limit of 0 allows no trailer field.
        if (++line_bytes_ > max_trailer_bytes_) return fail(HttpError::kTrailersTooLarge);
    }

    switch (state_) {
        // ---- size line (§7.1): chunk-size = 1*HEXDIG; leading zeros are part of the grammar ----
        case State::kSizeFirst:
            if (!is_hex_digit(c)) return fail(HttpError::kBadChunkSize);  // "", "-1", "+5", " 5"
            remaining_ = static_cast<uint64_t>(hex_value(c));
            state_ = State::kSize;
            return true;
        case State::kSize: {
            if (is_hex_digit(c)) {
                // §7.1: "MUST anticipate potentially large hexadecimal numerals and prevent
                // parsing errors due to integer conversion overflows".
                if (remaining_ > (kMaxBodyLength >> 4)) return fail(HttpError::kChunkSizeOverflow);
                remaining_ = remaining_ << 4 | static_cast<uint64_t>(hex_value(c));
                return true;
            }
            State next;
            if (c == '\r') {
                next = State::kSizeLineLf;
            } else if (c == ';') {
                next = State::kExtNameStart;
            } else if (is_ows(c)) {
                next = State::kExtBws;
            } else {
                return fail(HttpError::kBadChunkSize);  // "0x5", "5g"
            }
            if (!end_size()) return false;
            state_ = next;
            return true;
        }

        // ---- chunk-ext (§7.1.1) ----
        case State::kExtBws:
            // BWS is only allowed before ';': "5 \r\n" is not a chunk line.
            if (is_ows(c)) return true;
            if (c == ';') {
                state_ = State::kExtNameStart;
                return true;
            }
            return fail(HttpError::kBadChunkExtension);
        case State::kExtNameStart:
            if (is_ows(c)) return true;
            if (!is_tchar(c)) return fail(HttpError::kBadChunkExtension);
            state_ = State::kExtName;
            return true;
        case State::kExtName:
            if (is_tchar(c)) return true;
            if (is_ows(c)) {
                state_ = State::kExtAfterName;
            } else if (c == '=') {
                state_ = State::kExtValueStart;
            } else if (c == ';') {
                state_ = State::kExtNameStart;
            } else if (c == '\r') {
                state_ = State::kSizeLineLf;
            } else {
                return fail(HttpError::kBadChunkExtension);
            }
            return true;
        case State::kExtAfterName:
            if (is_ows(c)) return true;
            if (c == '=') {
                state_ = State::kExtValueStart;
            } else if (c == ';') {
                state_ = State::kExtNameStart;
            } else {
                return fail(HttpError::kBadChunkExtension);
            }
            return true;
        case State::kExtValueStart:
            if (is_ows(c)) return true;
            if (c == '"') {
                state_ = State::kExtQuoted;
            } else if (is_tchar(c)) {
                state_ = State::kExtToken;
            } else {
                return fail(HttpError::kBadChunkExtension);
            }
            return true;
        case State::kExtToken:
        case State::kExtAfterQuoted:
            if (state_ == State::kExtToken && is_tchar(c)) return true;
            if (is_ows(c)) {
                state_ = State::kExtBws;
            } else if (c == ';') {
                state_ = State::kExtNameStart;
            } else if (c == '\r') {
                state_ = State::kSizeLineLf;
            } else {
                return fail(HttpError::kBadChunkExtension);
            }
            return true;
        case State::kExtQuoted:
            // RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
            if (c == '"') {
                state_ = State::kExtAfterQuoted;
            } else if (c == '\\') {
                state_ = State::kExtQuotedPair;
            } else if (!is_qdtext(c)) {
                return fail(HttpError::kBadChunkExtension);
            }
            return true;
        case State::kExtQuotedPair:
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            if (!is_field_vchar(c) && !is_ows(c)) return fail(HttpError::kBadChunkExtension);
            state_ = State::kExtQuoted;
            return true;
        case State::kSizeLineLf:
            if (c != '\n') return fail(HttpError::kBareCr);
            line_bytes_ = 0;
            // §7.1: the last chunk (size 0) is followed by the trailer section.
            state_ = remaining_ == 0 ? State::kTrailerLineStart : State::kData;
            return true;

        // ---- CRLF after chunk-data ----
        case State::kDataCr:
            if (c != '\r') return fail(HttpError::kMissingChunkCrlf);
            state_ = State::kDataLf;
            return true;
        case State::kDataLf:
            if (c != '\n') return fail(HttpError::kMissingChunkCrlf);
            state_ = State::kSizeFirst;
            return true;

        // ---- trailer-section (§7.1.2): field lines as in §5, then CRLF ----
        case State::kTrailerLineStart:
            if (c == '\r') {
                state_ = State::kTrailerEndLf;
                return true;
            }
            if (c == '\n') return fail(HttpError::kBareLf);
            if (is_ows(c)) return fail(HttpError::kObsFold);
            if (c == ':') return fail(HttpError::kEmptyHeaderName);
            if (!is_tchar(c)) return fail(HttpError::kBadHeaderName);
            state_ = State::kTrailerName;
            return true;
        case State::kTrailerName:
            if (is_tchar(c)) return true;
            if (c == ':') {
                state_ = State::kTrailerValue;
                return true;
            }
            if (is_ows(c)) {
                state_ = State::kTrailerNameOws;
                return true;
            }
            if (c == '\r' || c == '\n') return fail(HttpError::kMissingColon);
            return fail(HttpError::kBadHeaderName);
        case State::kTrailerNameOws:
            if (is_ows(c)) return true;
            return fail(c == ':' ? HttpError::kSpaceBeforeColon : HttpError::kBadHeaderName);
        case State::kTrailerValue:
            if (is_field_vchar(c) || is_ows(c)) return true;
            if (c == '\r') {
                state_ = State::kTrailerLineLf;
                return true;
            }
            return fail(c == '\n' ? HttpError::kBareLf : HttpError::kBadHeaderValue);
        case State::kTrailerLineLf:
            if (c != '\n') return fail(HttpError::kBareCr);
            state_ = State::kTrailerLineStart;
            return true;
        case State::kTrailerEndLf:
            if (c != '\n') return fail(HttpError::kBareCr);
            state_ = State::kDone;
            return true;

        case State::kLength:
        case State::kUntilClose:
        case State::kData:
        case State::kDone:
        case State::kError:
            break;
    }
    return fail(HttpError::kBadChunkSize);  // not reached: decode() never steps in these states
}

}  // namespace lbd::http1
