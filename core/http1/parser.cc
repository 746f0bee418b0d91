// HTTP/1.1 heads: finding the end, then putting the start line (start_line.cc) and the field
// section (fields.cc) together. Section numbers are RFC 9112's unless another RFC is named.
//
// Parse flow:
//
//   input --locate_head--> LF by LF (memchr), each LF must follow a CR
//            |  first LF: check the start line (early 400/414/505 before the head is complete)
//            |  no LF yet: check the partial start line; no end within max_header_bytes: 431
//            v
//         empty line found --> start line (fill) --> field lines (syntax of all, then meaning)
//                                                --> settle: framing, Host, keep-alive, hop-by-hop
//
// Everything is decided on the complete head except what the bytes so far already rule out, and
// the scan never looks past max_header_bytes: a head gets the same answer whether it arrives in
// one piece or byte by byte.
#include "core/http1/parser.h"

#include <algorithm>
#include <cstring>

#include "core/http1/fields.h"
#include "core/http1/start_line.h"

namespace lbd::http1 {
namespace {

struct Located {
    HeadStatus status = HeadStatus::kIncomplete;
    HttpError error = HttpError::kNone;
    size_t head_end = 0;          // just past the empty line's LF
    size_t start_line_begin = 0;
    size_t start_line_end = 0;    // just past the start line's LF
};

Located located_error(HttpError error) {
    Located r;
    r.status = HeadStatus::kError;
    r.error = error;
    return r;
}

HttpError check_start_line(MessageKind kind, std::string_view line, bool complete, const HttpLimits& limits) {
    return kind == MessageKind::kRequest ? check_request_line(line, complete, limits, nullptr)
                                         : check_status_line(line, complete, nullptr);
}

// Finds the empty line that ends the head, resuming where `s` says an earlier call stopped. Only
// input[0, max_header_bytes) is ever looked at.
Located locate_head(std::string_view input, const HttpLimits& limits, MessageKind kind, HeadScanState& s) {
    const size_t limit = std::min(input.size(), limits.max_header_bytes);
    bool consistent = s.scanned <= limit && s.line_begin <= s.scanned && s.start_line_begin <= s.line_begin &&
                      s.start_line_end <= s.line_begin;
    if (!consistent) s = HeadScanState{};

    size_t pos = s.scanned;
    while (pos < limit) {
        const void* hit = std::memchr(input.data() + pos, '\n', limit - pos);
        if (hit == nullptr) {
            pos = limit;
            break;
        }
        const size_t lf = static_cast<size_t>(static_cast<const char*>(hit) - input.data());
        pos = lf + 1;
        if (lf == 0 || input[lf - 1] != '\r') {
            // §2.2: we do not recognize a bare LF as a line terminator. A start line broken before
            // it reports that first, as it did while the LF had not arrived yet.
            if (s.start_line_end == 0) {
                HttpError e =
                    check_start_line(kind, input.substr(s.start_line_begin, lf - s.start_line_begin), false, limits);
                if (e != HttpError::kNone) return located_error(e);
            }
            return located_error(HttpError::kBareLf);
        }
        const size_t cr = lf - 1;
        const bool empty_line = cr == s.line_begin;
        if (s.start_line_end == 0) {
            if (empty_line && kind == MessageKind::kRequest) {
                // §2.2: "SHOULD ignore at least one empty line (CRLF) received prior to the
                // request-line" (old clients send one after a POST body).
                s.start_line_begin = s.line_begin = pos;
                continue;
            }
            HttpError e =
                check_start_line(kind, input.substr(s.start_line_begin, cr - s.start_line_begin), true, limits);
            if (e != HttpError::kNone) return located_error(e);
            s.start_line_end = pos;
        } else if (empty_line) {
            Located r;
            r.status = HeadStatus::kComplete;
            r.head_end = pos;
            r.start_line_begin = s.start_line_begin;
            r.start_line_end = s.start_line_end;
            return r;
        }
        s.line_begin = pos;
    }
    s.scanned = pos;

    if (s.start_line_end == 0) {
        HttpError e =
            check_start_line(kind, input.substr(s.start_line_begin, limit - s.start_line_begin), false, limits);
        if (e != HttpError::kNone) return located_error(e);
    }
    // The head would end at or after input.size() + 1 > max_header_bytes.
    if (input.size() >= limits.max_header_bytes) return located_error(HttpError::kHeadersTooLarge);
    return Located{};
}

HeadParseResult parse_error(HttpError error) {
    HeadParseResult r;
    r.status = HeadStatus::kError;
    r.error = error;
    return r;
}

HeadParseResult parse_complete(size_t consumed) {
    HeadParseResult r;
    r.status = HeadStatus::kComplete;
    r.consumed = consumed;
    return r;
}

HeadParseResult located_result(const Located& where) {
    HeadParseResult r;
    r.status = where.status;
    r.error = where.error;
    return r;
}

}  // namespace

void HttpHead::clear() {
    std::vector<HttpHeader> kept = std::move(headers);
    kept.clear();
    *this = HttpHead();
    headers = std::move(kept);
}

void HttpRequestHead::clear() {
    std::vector<HttpHeader> kept = std::move(headers);
    kept.clear();
    *this = HttpRequestHead();
    headers = std::move(kept);
}

void HttpResponseHead::clear() {
    std::vector<HttpHeader> kept = std::move(headers);
    kept.clear();
    *this = HttpResponseHead();
    headers = std::move(kept);
}

HeadParseResult parse_request_head(std::string_view input, const HttpLimits& limits, HttpRequestHead& out,
                                   HeadScanState* scan) {
    HeadScanState local;
    HeadScanState& s = scan != nullptr ? *scan : local;
    Located where = locate_head(input, limits, MessageKind::kRequest, s);
    if (where.status != HeadStatus::kIncomplete) s = HeadScanState{};
    if (where.status != HeadStatus::kComplete) return located_result(where);

    out.clear();
    std::string_view start_line =
        input.substr(where.start_line_begin, where.start_line_end - 2 - where.start_line_begin);
    if (HttpError e = check_request_line(start_line, true, limits, &out); e != HttpError::kNone) return parse_error(e);
    FieldFacts facts;
    HttpError e =
        parse_fields(input, where.start_line_end, where.head_end - 2, limits, MessageKind::kRequest, out, facts);
    if (e != HttpError::kNone) return parse_error(e);

    if (e = check_transfer_encoding(out, facts); e != HttpError::kNone) return parse_error(e);
    if (facts.transfer_encoding_lines > 0) {
        // §6.3 item 4: otherwise "the server MUST respond with the 400 (Bad Request) status code".
        if (!facts.chunked_final) return parse_error(HttpError::kChunkedNotFinal);
        out.framing = BodyFraming::kChunked;
    } else if (out.has_content_length) {
        out.framing = BodyFraming::kContentLength;  // §6.3 item 6
    } else {
        out.framing = BodyFraming::kNone;  // §6.3 item 7: a request without either has no body
    }

    // §3.2: "MUST respond with a 400 ... to any HTTP/1.1 request message that lacks a Host".
    if (out.version == HttpVersion::k11 && facts.host_lines == 0) return parse_error(HttpError::kMissingHost);
    out.has_host = facts.host_lines > 0;
    out.host = facts.host;

    settle_connection(out, facts);
    out.upgrade_requested = out.version == HttpVersion::k11 && out.connection_upgrade && facts.upgrade_seen;
    out.expect_continue = out.version == HttpVersion::k11 && facts.expect_continue;

    if (out.framing == BodyFraming::kContentLength && limits.max_body_bytes != 0 &&
        out.content_length > limits.max_body_bytes)
        return parse_error(HttpError::kBodyTooLarge);
    return parse_complete(where.head_end);
}

HeadParseResult parse_response_head(std::string_view input, HttpMethod request_method, const HttpLimits& limits,
                                    HttpResponseHead& out, HeadScanState* scan) {
    HeadScanState local;
    HeadScanState& s = scan != nullptr ? *scan : local;
    Located where = locate_head(input, limits, MessageKind::kResponse, s);
    if (where.status != HeadStatus::kIncomplete) s = HeadScanState{};
    if (where.status != HeadStatus::kComplete) return located_result(where);

    out.clear();
    std::string_view start_line =
        input.substr(where.start_line_begin, where.start_line_end - 2 - where.start_line_begin);
    if (HttpError e = check_status_line(start_line, true, &out); e != HttpError::kNone) return parse_error(e);
    FieldFacts facts;
    HttpError e =
        parse_fields(input, where.start_line_end, where.head_end - 2, limits, MessageKind::kResponse, out, facts);
    if (e != HttpError::kNone) return parse_error(e);
    if (e = check_transfer_encoding(out, facts); e != HttpError::kNone) return parse_error(e);

    const bool success = out.status >= 200 && out.status < 300;
    const bool informational = out.status < 200;
    out.tunnel = out.status == 101 || (request_method == HttpMethod::kConnect && success);
    if (request_method == HttpMethod::kHead || informational || out.status == 204 || out.status == 304 ||
        (request_method == HttpMethod::kConnect && success)) {
        out.framing = BodyFraming::kNone;  // §6.3 items 1-2, whatever the fields say
    } else if (facts.transfer_encoding_lines > 0) {
        // §6.3 item 4: chunked last frames the body, anything else runs until close.
        out.framing = facts.chunked_final ? BodyFraming::kChunked : BodyFraming::kUntilClose;
    } else if (out.has_content_length) {
        out.framing = BodyFraming::kContentLength;
    } else {
        out.framing = BodyFraming::kUntilClose;  // §6.3 item 8
    }

    settle_connection(out, facts);
    if (out.framing == BodyFraming::kUntilClose) out.keep_alive = false;

    if (out.framing == BodyFraming::kContentLength && limits.max_body_bytes != 0 &&
        out.content_length > limits.max_body_bytes)
        return parse_error(HttpError::kBodyTooLarge);
    return parse_complete(where.head_end);
}

}  // namespace lbd::http1
