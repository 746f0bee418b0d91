// Unit tests for the HTTP/1.1 body decoder (core/http1/body.h) in every split, and a fuzz loop over
// heads and bodies: mutated messages never crash and parse the same however they arrive.
#include <doctest/doctest.h>

#include "tests/unit/http_test_kit.h"

TEST_CASE("bodies decode the same in every split") {
    const std::string chunked =
        "1a;name=value;q=\"quo\\\"ted\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
        "A\r\n0123456789\r\n1 ; x\r\n!\r\n0\r\nX-Trailer: t\r\nY: \r\n\r\n";
    const std::string expected = "abcdefghijklmnopqrstuvwxyz0123456789!";
    BodyDecoder chunked_decoder(BodyFraming::kChunked, 0, HttpLimits{});
    BodyDecoder length_decoder(BodyFraming::kContentLength, expected.size(), HttpLimits{});

    Drained whole = decode_whole(chunked_decoder, chunked);
    CHECK(whole.status == BodyStatus::kDone);
    CHECK(whole.data == expected);
    CHECK(whole.consumed == chunked.size());
    CHECK(whole.contract_kept);

    Drained bytewise = decode_bytewise(chunked_decoder, chunked);
    CHECK(bytewise == whole);
    CHECK(bytewise.contract_kept);
    CHECK(decode_bytewise(length_decoder, expected).data == expected);

    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        Drained split = decode_in_pieces(chunked_decoder, chunked, random_cuts(rng, chunked.size()));
        REQUIRE(split == whole);
        REQUIRE(split.contract_kept);
        Drained length_split = decode_in_pieces(length_decoder, expected, random_cuts(rng, expected.size()));
        REQUIRE(length_split.data == expected);
        REQUIRE(length_split.status == BodyStatus::kDone);
    }
}

TEST_CASE("body ends: next message, truncation, no body") {
    // The decoder stops exactly at the end of the body.
    BodyDecoder chunked(BodyFraming::kChunked, 0, HttpLimits{});
    BodyResult r = chunked.decode("0\r\n\r\nGET / HTTP/1.1\r\n");
    CHECK(r.status == BodyStatus::kDone);
    CHECK(r.consumed == 5);
    CHECK(chunked.done());
    CHECK(chunked.decode("more").consumed == 0);

    BodyDecoder length(BodyFraming::kContentLength, 4, HttpLimits{});
    r = length.decode("abcdefg");
    CHECK(r.status == BodyStatus::kDone);
    CHECK(r.data == "abcd");
    CHECK(length.body_bytes() == 4);

    // Closed early: an error for framed bodies, the end for until-close.
    BodyDecoder cut(BodyFraming::kContentLength, 10, HttpLimits{});
    cut.decode("abc");
    CHECK(cut.finish().error == HttpError::kTruncatedBody);
    BodyDecoder cut_chunked(BodyFraming::kChunked, 0, HttpLimits{});
    cut_chunked.decode("5\r\nhel");
    CHECK(cut_chunked.finish().error == HttpError::kTruncatedBody);
    BodyDecoder until_close(BodyFraming::kUntilClose, 0, HttpLimits{});
    CHECK(until_close.decode("xyz").data == "xyz");
    CHECK(until_close.finish().status == BodyStatus::kDone);

    BodyDecoder none;
    CHECK(none.done());
    CHECK(none.decode("GET").status == BodyStatus::kDone);
    CHECK(none.finish().status == BodyStatus::kDone);
}

namespace {

// Random edits biased toward the bytes HTTP framing hinges on. Half of the time they stay after
// the head, so that bodies get their share.
std::string mutate(std::string s, std::mt19937& rng) {
    size_t head_end = s.find("\r\n\r\n");
    size_t first = (rng() % 2 == 0 && head_end != std::string::npos) ? head_end + 4 : 0;
    static constexpr std::string_view kInteresting("\r\n \t:,;0f\0\x0b\x7f\x80\"\\=-+xA", 21);
    static constexpr std::string_view kSnippets[] = {
        "\r\n", "Transfer-Encoding: chunked\r\n", "Content-Length: 3\r\n", "Host: h\r\n", "0\r\n\r\n",
        "Connection: close, X\r\n", "ffffffffffffffff", "HTTP/1.1", " ",
    };
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < edits; ++i) {
        size_t at = first >= s.size() ? s.size() : first + rng() % (s.size() - first + 1);
        switch (rng() % 7) {
            case 0:
                if (at < s.size()) s[at] = static_cast<char>(rng() & 0xff);
                break;
            case 1:
                if (at < s.size()) s[at] = kInteresting[rng() % kInteresting.size()];
                break;
            case 2:
                s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), kInteresting[rng() % kInteresting.size()]);
                break;
            case 3:
                if (at < s.size()) s.erase(at, 1 + rng() % 3);
                break;
            case 4: {
                size_t from = s.empty() ? 0 : rng() % s.size();
                std::string slice = s.substr(from, 1 + rng() % 16);
                s.insert(at, slice);
                break;
            }
            case 5:
                s.insert(at, kSnippets[rng() % std::size(kSnippets)]);
                break;
            default:
                s.resize(at);
                break;
        }
    }
    return s;
}

// Parses `msg` whole and in random pieces; returns what differed, or "".
std::string check_consistency(const std::string& msg, bool request, HttpMethod method, const HttpLimits& limits,
                              std::mt19937& rng) {
    Bytes in(msg);
    HttpRequestHead request_head;
    HttpResponseHead response_head;
    HttpHead& head = request ? static_cast<HttpHead&>(request_head) : response_head;
    auto parse = [&](std::string_view s, HeadScanState* scan) {
        return request ? parse_request_head(s, limits, request_head, scan)
                       : parse_response_head(s, method, limits, response_head, scan);
    };
    HeadParseResult whole = parse(in.view(), nullptr);
    if (whole.status == HeadStatus::kError && whole.error == HttpError::kNone) return "error without a reason";
    if (whole.status != HeadStatus::kError && whole.error != HttpError::kNone) return "reason without an error";
    if (whole.consumed > msg.size()) return "consumed past the input";
    HeadParseResult growing = parse_growing(msg, random_cuts(rng, msg.size()), parse);
    if (!same(growing, whole))
        return "growing buffer disagrees with the whole: " + std::to_string(int(growing.status)) + "/" +
               lbd::http1::to_string(growing.error) + " vs " + std::to_string(int(whole.status)) + "/" +
               lbd::http1::to_string(whole.error) + " limits " + std::to_string(limits.max_header_bytes);
    if (whole.status != HeadStatus::kComplete) return "";

    parse(in.view(), nullptr);  // parse_growing reused the heads on other buffers
    std::string_view head_bytes = in.view().substr(0, whole.consumed);
    for (const auto& h : head.headers) {
        if (!inside(h.name, head_bytes) || !inside(h.value, head_bytes) || h.name.empty()) return "field view";
    }
    if (request && (!inside(request_head.target, head_bytes) || request_head.target.empty())) return "target view";
    if (head.framing == BodyFraming::kContentLength && !head.has_content_length) return "framing";

    std::string_view body = in.view().substr(whole.consumed);
    BodyDecoder decoder(head, limits);
    Drained one = decode_whole(decoder, body);
    Drained split = decode_in_pieces(decoder, body, random_cuts(rng, body.size()));
    if (!one.contract_kept || !split.contract_kept) return "body decoder contract";
    if (!(one == split)) return "body splits disagree";
    if (one.consumed > body.size()) return "body consumed past the input";
    return "";
}

}  // namespace

TEST_CASE("fuzz: mutated messages never crash and parse the same however they arrive") {
    std::vector<std::string> requests;
    std::vector<std::string> responses;
    for (const auto& c : http_corpus::kValidRequests) requests.emplace_back(c.raw);
    for (const auto& c : http_corpus::kSmuggling) requests.emplace_back(c.raw);
    for (const auto& c : http_corpus::kMalformedRequests) requests.emplace_back(c.raw);
    for (const auto& c : http_corpus::kValidResponses) responses.emplace_back(c.raw);
    for (const auto& c : http_corpus::kMalformedResponses) responses.emplace_back(c.raw);

    HttpLimits tight;
    tight.max_header_bytes = 96;
    tight.max_header_count = 4;
    tight.max_uri_bytes = 16;
    tight.max_body_bytes = 8;
    tight.max_trailer_bytes = 12;
    constexpr HttpMethod kMethods[] = {HttpMethod::kGet, HttpMethod::kHead, HttpMethod::kConnect};

    std::mt19937 rng(20240601);  // fixed: a failure reproduces
    constexpr int kIterations = 200000;
    int failures = 0;
    int chunked_ok = 0;
    int chunked_errors = 0;
    for (int i = 0; i < kIterations; ++i) {
        bool request = rng() % 3 != 0;
        const std::vector<std::string>& seeds = request ? requests : responses;
        std::string msg = mutate(seeds[rng() % seeds.size()], rng);
        HttpLimits limits = i % 4 == 0 ? tight : HttpLimits{};
        HttpMethod method = kMethods[rng() % std::size(kMethods)];
        std::string problem = check_consistency(msg, request, method, limits, rng);
        if (!problem.empty() && ++failures <= 5) {
            CAPTURE(msg);
            CAPTURE(request);
            FAIL_CHECK(problem);
        }
        if (problem.empty() && request) {
            HttpRequestHead head;
            Bytes in(msg);
            HeadParseResult r = parse_request_head(in.view(), limits, head);
            if (r.status == HeadStatus::kComplete && head.framing == BodyFraming::kChunked) {
                Drained body = decode_whole(BodyDecoder(head, limits), in.view().substr(r.consumed));
                ++(body.status == BodyStatus::kError ? chunked_errors : chunked_ok);
            }
        }
    }
    CHECK(failures == 0);
    MESSAGE("mutated chunked requests: " << chunked_ok << " decoded or pending, " << chunked_errors << " refused");
    // The mutations reach the body decoder and exercise both of its outcomes.
    CHECK(chunked_ok > 200);
    CHECK(chunked_errors > 200);
}
