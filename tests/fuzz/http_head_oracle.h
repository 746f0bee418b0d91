// Oracles shared by the request-head and response-head targets (core/http1/parser.h):
//  - the answer does not depend on how the bytes arrive: a prefix, then the whole input (with the
//    same HeadScanState, as a connection does), gives what the whole input gives at once; a prefix
//    is never an error unless the whole input is the same error (no prefix of a valid head fails);
//    fed one byte more per call, the first answer is the whole input's;
//  - bytes past the head never change it: the head alone parses to the same head;
//  - a complete head never has an ambiguous length: no Content-Length together with
//    Transfer-Encoding, at most one Content-Length line, and the framing the fields say.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "l7/http1.h"
#include "l7/http1.h"
#include "tests/fuzz/fuzz_check.h"

namespace lbd::fuzz {

// Small limits, so that inputs of a few hundred bytes reach every limit's edge.
inline l7::HttpLimits fuzz_http_limits() {
    l7::HttpLimits limits;
    limits.max_header_bytes = 1024;
    limits.max_header_count = 12;
    limits.max_uri_bytes = 256;
    return limits;
}

// Everything a parsed head says, as text: two heads are the same when their descriptions are.
inline std::string describe_common(const l7::HttpHead& head) {
    std::string out = "v" + std::to_string(static_cast<int>(head.version));
    out += " framing=" + std::to_string(static_cast<int>(head.framing));
    out += " cl=" + std::to_string(head.has_content_length) + "/" + std::to_string(head.content_length);
    out += " ka=" + std::to_string(head.keep_alive) + std::to_string(head.connection_close) +
           std::to_string(head.connection_keep_alive) + std::to_string(head.connection_upgrade);
    out += " upgrade=" + std::string(head.upgrade);
    for (const l7::HttpHeader& h : head.headers)
        out += "\n" + std::string(h.name) + ":" + std::string(h.value) + (h.hop_by_hop ? " (hop)" : "");
    return out;
}

inline std::string describe(const l7::HttpRequestHead& head) {
    return std::string(head.method_token) + " " + std::string(head.target) + " form=" +
           std::to_string(static_cast<int>(head.target_form)) + " authority=" + std::string(head.authority) +
           " path=" + std::string(head.path) + " host=" + std::to_string(head.has_host) + std::string(head.host) +
           " up=" + std::to_string(head.upgrade_requested) + " expect=" + std::to_string(head.expect_continue) +
           " method=" + std::to_string(static_cast<int>(head.method)) + " " + describe_common(head);
}

inline std::string describe(const l7::HttpResponseHead& head) {
    return std::to_string(head.status) + " " + std::string(head.reason) + " tunnel=" + std::to_string(head.tunnel) +
           " " + describe_common(head);
}

inline bool same_result(const l7::HeadParseResult& a, const l7::HeadParseResult& b) {
    return a.status == b.status && a.consumed == b.consumed && a.error == b.error;
}

// The length rules of RFC 9112 §6.3 (item 3: both fields; §6.2 / RFC 9110 §8.6: one length).
inline void check_unambiguous_length(const l7::HttpHead& head) {
    size_t content_lengths = 0;
    size_t transfer_encodings = 0;
    for (const l7::HttpHeader& h : head.headers) {
        if (l7::iequals(h.name, "content-length")) ++content_lengths;
        if (l7::iequals(h.name, "transfer-encoding")) ++transfer_encodings;
    }
    FUZZ_CHECK(content_lengths <= 1);
    FUZZ_CHECK(content_lengths == 0 || transfer_encodings == 0);
    FUZZ_CHECK(head.has_content_length == (content_lengths == 1));
    FUZZ_CHECK(head.framing != l7::BodyFraming::kContentLength || head.has_content_length);
    FUZZ_CHECK(head.framing != l7::BodyFraming::kChunked || transfer_encodings > 0);
    FUZZ_CHECK(head.content_length <= l7::kMaxBodyLength);
}

// `parse(bytes, head, scan)` is parse_request_head or parse_response_head with its other arguments
// bound; `Head` the matching head type. `split` is where the input is cut in two.
template <typename Head, typename Parse>
void check_head(std::string_view input, size_t split, Parse parse) {
    Head whole;
    const l7::HeadParseResult expected = parse(input, whole, nullptr);
    FUZZ_CHECK(expected.status != l7::HeadStatus::kError || expected.error != l7::HttpError::kNone);
    const std::string expected_head = expected.status == l7::HeadStatus::kComplete ? describe(whole) : "";

    // Split: the first piece alone, then the whole input on the same scan state.
    l7::HeadScanState scan;
    Head piecewise;
    const l7::HeadParseResult first = parse(input.substr(0, split), piecewise, &scan);
    if (first.status == l7::HeadStatus::kError) {
        FUZZ_CHECK(same_result(first, expected));
    } else if (first.status == l7::HeadStatus::kComplete) {
        FUZZ_CHECK(same_result(first, expected));
        FUZZ_CHECK(describe(piecewise) == expected_head);
    } else {
        FUZZ_CHECK(expected.status != l7::HeadStatus::kComplete || expected.consumed > split);
        const l7::HeadParseResult second = parse(input, piecewise, &scan);
        FUZZ_CHECK(same_result(second, expected));
        if (second.status == l7::HeadStatus::kComplete) FUZZ_CHECK(describe(piecewise) == expected_head);
    }

    if (expected.status != l7::HeadStatus::kComplete) return;
    FUZZ_CHECK(expected.consumed > 0 && expected.consumed <= input.size());
    check_unambiguous_length(whole);
    // What follows the head (a body, the next request) never changes the head.
    Head alone;
    const l7::HeadParseResult head_only = parse(input.substr(0, expected.consumed), alone, nullptr);
    FUZZ_CHECK(same_result(head_only, expected));
    FUZZ_CHECK(describe(alone) == expected_head);
}

// The input as a slow client sends it: one more byte per call, on one scan state. The first call
// that is not kIncomplete must give what the whole input gives.
template <typename Head, typename Parse>
void check_byte_by_byte(std::string_view input, Parse parse) {
    Head whole;
    const l7::HeadParseResult expected = parse(input, whole, nullptr);
    l7::HeadScanState scan;
    Head head;
    for (size_t length = 0; length <= input.size(); ++length) {
        const l7::HeadParseResult r = parse(input.substr(0, length), head, &scan);
        if (r.status == l7::HeadStatus::kIncomplete) continue;
        FUZZ_CHECK(same_result(r, expected));
        if (r.status == l7::HeadStatus::kComplete) FUZZ_CHECK(describe(head) == describe(whole));
        return;
    }
    FUZZ_CHECK(expected.status == l7::HeadStatus::kIncomplete);
}

// The split point: the fuzzer's choice from the input's first two bytes, which stay part of the
// message (so every corpus file is a plain HTTP message that also works with other tools).
inline size_t split_point(std::string_view input) {
    if (input.size() < 2) return input.size() / 2;
    const size_t chosen = static_cast<unsigned char>(input[0]) * 256u + static_cast<unsigned char>(input[1]);
    return chosen % (input.size() + 1);
}

}  // namespace lbd::fuzz
