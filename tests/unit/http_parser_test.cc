// Unit tests for the HTTP/1.1 head parser and body decoder (l7/http_parser.h, l7/http_body.h).
// The messages live in http_corpus.h; this file drives them whole, byte by byte, in random
// splits, and mutated.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "http_corpus.h"
#include "l7/http_body.h"
#include "l7/http_parser.h"

namespace {

using lbd::l7::BodyDecoder;
using lbd::l7::BodyFraming;
using lbd::l7::BodyResult;
using lbd::l7::BodyStatus;
using lbd::l7::connection_lists;
using lbd::l7::HeadParseResult;
using lbd::l7::HeadScanState;
using lbd::l7::HeadStatus;
using lbd::l7::http_status;
using lbd::l7::HttpError;
using lbd::l7::HttpHead;
using lbd::l7::HttpHeader;
using lbd::l7::HttpLimits;
using lbd::l7::HttpMethod;
using lbd::l7::HttpRequestHead;
using lbd::l7::HttpResponseHead;
using lbd::l7::HttpVersion;
using lbd::l7::iequals;
using lbd::l7::is_hop_by_hop;
using lbd::l7::next_list_element;
using lbd::l7::parse_request_head;
using lbd::l7::parse_response_head;
using lbd::l7::TargetForm;

// A heap copy of exactly the given bytes, so ASan catches any read past the end.
class Bytes {
public:
    explicit Bytes(std::string_view s) : buf_(s.begin(), s.end()) {}
    std::string_view view() const { return std::string_view(buf_.data(), buf_.size()); }

private:
    std::vector<char> buf_;
};

// Whether `view` points into `whole` (an empty view anywhere).
bool inside(std::string_view view, std::string_view whole) {
    return view.empty() || (view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size());
}

// What a decoder made of some input, however it was fed.
struct Drained {
    BodyStatus status = BodyStatus::kMore;
    HttpError error = HttpError::kNone;
    std::string data;
    size_t consumed = 0;
    bool contract_kept = true;  // every view inside its input, progress on every kMore

    bool operator==(const Drained& o) const {
        return status == o.status && error == o.error && data == o.data && consumed == o.consumed;
    }
};

// Feeds one piece, calling again while the decoder asks to; `piece` is copied to the heap.
void feed(BodyDecoder& decoder, std::string_view piece, Drained& out) {
    Bytes copy(piece);
    std::string_view in = copy.view();
    size_t used = 0;
    for (;;) {
        BodyResult r = decoder.decode(in.substr(used));
        std::string_view rest = in.substr(used);
        if (r.consumed > rest.size()) out.contract_kept = false;
        // The data view lies inside the bytes the call says it consumed.
        if (!r.data.empty() && !inside(r.data, rest.substr(0, r.consumed))) out.contract_kept = false;
        if (r.status == BodyStatus::kMore && !rest.empty() && r.consumed == 0) out.contract_kept = false;
        out.data.append(r.data);
        used += std::min(r.consumed, rest.size());
        out.consumed += r.consumed;
        out.status = r.status;
        out.error = r.error;
        if (r.status != BodyStatus::kMore || used == in.size()) return;
    }
}

// Feeds `input` cut at `cuts` (sorted offsets), stopping at the first non-kMore result.
Drained decode_in_pieces(BodyDecoder decoder, std::string_view input, const std::vector<size_t>& cuts) {
    Drained out;
    size_t from = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        size_t to = i < cuts.size() ? cuts[i] : input.size();
        feed(decoder, input.substr(from, to - from), out);
        from = to;
        if (out.status != BodyStatus::kMore) break;
    }
    return out;
}

Drained decode_whole(BodyDecoder decoder, std::string_view input) { return decode_in_pieces(decoder, input, {}); }

Drained decode_bytewise(BodyDecoder decoder, std::string_view input) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
    return decode_in_pieces(decoder, input, cuts);
}

std::vector<size_t> random_cuts(std::mt19937& rng, size_t size) {
    std::vector<size_t> cuts;
    size_t at = 0;
    while (size > 0) {
        at += 1 + rng() % 16;
        if (at >= size) break;
        cuts.push_back(at);
    }
    return cuts;
}

// The first error of a whole request: its head, then its body.
HttpError request_error(std::string_view raw, const HttpLimits& limits = {}) {
    Bytes in(raw);
    HttpRequestHead head;
    HeadParseResult r = parse_request_head(in.view(), limits, head);
    if (r.status != HeadStatus::kComplete) return r.error;
    return decode_whole(BodyDecoder(head, limits), in.view().substr(r.consumed)).error;
}

// Feeds a head by growing prefixes with a scan state; the first answer that is not kIncomplete.
template <typename Parse>
HeadParseResult parse_growing(std::string_view raw, const std::vector<size_t>& cuts, Parse parse) {
    HeadScanState scan;
    HeadParseResult r;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        Bytes prefix(raw.substr(0, i < cuts.size() ? cuts[i] : raw.size()));
        r = parse(prefix.view(), &scan);
        if (r.status != HeadStatus::kIncomplete) break;
    }
    return r;
}

bool same(const HeadParseResult& a, const HeadParseResult& b) {
    return a.status == b.status && a.error == b.error && a.consumed == b.consumed;
}

}  // namespace

TEST_CASE("valid requests: fields, framing, body") {
    for (const http_corpus::ValidRequest& c : http_corpus::kValidRequests) {
        CAPTURE(c.name);
        Bytes in(c.raw);
        HttpRequestHead head;
        HeadParseResult r = parse_request_head(in.view(), HttpLimits{}, head);
        REQUIRE(r.status == HeadStatus::kComplete);
        CHECK(r.error == HttpError::kNone);
        CHECK(head.method == c.method);
        CHECK(head.method_token == c.method_token);
        CHECK(head.target == c.target);
        CHECK(head.target_form == c.form);
        CHECK(head.version == c.version);
        CHECK(head.has_host == c.has_host);
        CHECK(head.host == c.host);
        CHECK(head.framing == c.framing);
        CHECK(head.content_length == c.content_length);
        CHECK(head.keep_alive == c.keep_alive);
        CHECK(head.upgrade_requested == c.upgrade_requested);
        CHECK(head.expect_continue == c.expect_continue);
        CHECK(head.headers.size() == c.header_count);
        // Views into the input, never copies.
        CHECK(inside(head.target, in.view()));
        for (const auto& h : head.headers) CHECK((inside(h.name, in.view()) && inside(h.value, in.view())));

        Drained body = decode_whole(BodyDecoder(head, HttpLimits{}), in.view().substr(r.consumed));
        CHECK(body.status == BodyStatus::kDone);
        CHECK(body.data == c.body);
        CHECK(r.consumed + body.consumed == c.raw.size());
    }
}

TEST_CASE("valid requests: target parts and field values") {
    Bytes in("GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n"
             "X-Spaces: \t inner  value \t\r\n\r\n");
    HttpRequestHead head;
    REQUIRE(parse_request_head(in.view(), HttpLimits{}, head).status == HeadStatus::kComplete);
    CHECK(head.authority == "example.com:8080");
    CHECK(head.path == "/a/b?c=d");
    REQUIRE(head.headers.size() == 2);
    CHECK(head.headers[1].name == "X-Spaces");
    CHECK(head.headers[1].value == "inner  value");  // OWS trimmed, inner whitespace kept

    Bytes bare("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    REQUIRE(parse_request_head(bare.view(), HttpLimits{}, head).status == HeadStatus::kComplete);
    CHECK(head.authority == "example.com");
    CHECK(head.path.empty());

    Bytes connect("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
    REQUIRE(parse_request_head(connect.view(), HttpLimits{}, head).status == HeadStatus::kComplete);
    CHECK(head.target_form == TargetForm::kAuthority);
    CHECK(head.authority == "[2001:db8::1]:443");
    CHECK(head.path.empty());

    Bytes big("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n");
    REQUIRE(parse_request_head(big.view(), HttpLimits{}, head).status == HeadStatus::kComplete);
    CHECK(head.content_length == 9223372036854775807ull);
}

TEST_CASE("valid responses: status, framing, body") {
    for (const http_corpus::ValidResponse& c : http_corpus::kValidResponses) {
        CAPTURE(c.name);
        Bytes in(c.raw);
        HttpResponseHead head;
        HeadParseResult r = parse_response_head(in.view(), c.request_method, HttpLimits{}, head);
        REQUIRE(r.status == HeadStatus::kComplete);
        CHECK(head.status == c.status);
        CHECK(head.reason == c.reason);
        CHECK(head.version == c.version);
        CHECK(head.framing == c.framing);
        CHECK(head.has_content_length == c.has_content_length);
        CHECK(head.content_length == c.content_length);
        CHECK(head.keep_alive == c.keep_alive);
        CHECK(head.tunnel == c.tunnel);
        CHECK(head.interim() == c.interim);

        BodyDecoder decoder(head, HttpLimits{});
        Drained body;
        feed(decoder, in.view().substr(r.consumed), body);
        if (c.framing == BodyFraming::kUntilClose) {
            CHECK(body.status == BodyStatus::kMore);
            body.status = decoder.finish().status;  // the server closed
        }
        CHECK(body.status == BodyStatus::kDone);
        CHECK(body.data == c.body);
        CHECK(r.consumed + body.consumed == c.raw.size());
    }
}

TEST_CASE("malformed requests get the error of their rule") {
    for (const http_corpus::MalformedMessage& c : http_corpus::kMalformedRequests) {
        CAPTURE(c.name);
        Bytes in(c.raw);
        HttpRequestHead head;
        HeadParseResult r = parse_request_head(in.view(), HttpLimits{}, head);
        CHECK(r.status == HeadStatus::kError);
        CHECK(lbd::l7::to_string(r.error) == std::string(lbd::l7::to_string(c.error)));
        CHECK(r.consumed == 0);
        // The same error arriving byte by byte: the early checks agree with the late ones.
        std::vector<size_t> cuts;
        for (size_t i = 1; i < c.raw.size(); ++i) cuts.push_back(i);
        HeadParseResult growing = parse_growing(c.raw, cuts, [&](std::string_view s, HeadScanState* scan) {
            return parse_request_head(s, HttpLimits{}, head, scan);
        });
        CHECK(same(growing, r));
    }
}

TEST_CASE("malformed responses are errors (a 502 for the client)") {
    for (const http_corpus::MalformedMessage& c : http_corpus::kMalformedResponses) {
        CAPTURE(c.name);
        Bytes in(c.raw);
        HttpResponseHead head;
        HeadParseResult r = parse_response_head(in.view(), HttpMethod::kGet, HttpLimits{}, head);
        CHECK(r.status == HeadStatus::kError);
        CHECK(lbd::l7::to_string(r.error) == std::string(lbd::l7::to_string(c.error)));
    }
}

TEST_CASE("request smuggling attempts are refused") {
    for (const http_corpus::MalformedMessage& c : http_corpus::kSmuggling) {
        CAPTURE(c.name);
        CHECK(lbd::l7::to_string(request_error(c.raw)) == std::string(lbd::l7::to_string(c.error)));
    }
}

TEST_CASE("malformed chunked bodies, whole and byte by byte") {
    for (const http_corpus::MalformedMessage& c : http_corpus::kMalformedChunked) {
        CAPTURE(c.name);
        BodyDecoder decoder(BodyFraming::kChunked, 0, HttpLimits{});
        Drained whole = decode_whole(decoder, c.raw);
        CHECK(whole.status == BodyStatus::kError);
        CHECK(lbd::l7::to_string(whole.error) == std::string(lbd::l7::to_string(c.error)));
        Drained bytewise = decode_bytewise(decoder, c.raw);
        CHECK(bytewise.status == BodyStatus::kError);
        CHECK(bytewise.error == whole.error);
    }
}

TEST_CASE("error statuses and texts") {
    CHECK(http_status(HttpError::kNone) == 0);
    CHECK(http_status(HttpError::kContentLengthAndTransferEncoding) == 400);
    CHECK(http_status(HttpError::kBareLf) == 400);
    CHECK(http_status(HttpError::kMissingHost) == 400);
    CHECK(http_status(HttpError::kChunkSizeOverflow) == 400);
    CHECK(http_status(HttpError::kBodyTooLarge) == 413);
    CHECK(http_status(HttpError::kUriTooLong) == 414);
    CHECK(http_status(HttpError::kHeadersTooLarge) == 431);
    CHECK(http_status(HttpError::kTooManyHeaders) == 431);
    CHECK(http_status(HttpError::kTrailersTooLarge) == 431);
    CHECK(http_status(HttpError::kUnknownTransferCoding) == 501);
    CHECK(http_status(HttpError::kVersionNotSupported) == 505);
    CHECK(std::string(lbd::l7::to_string(HttpError::kContentLengthAndTransferEncoding)) ==
          "content-length and transfer-encoding together");
    // Every reason has its own text.
    std::set<std::string> texts;
    for (int e = 0; e < static_cast<int>(HttpError::kCount); ++e) {
        std::string text = lbd::l7::to_string(static_cast<HttpError>(e));
        CHECK(text != "unknown error");
        texts.insert(text);
    }
    CHECK(texts.size() == static_cast<size_t>(HttpError::kCount));
}

TEST_CASE("every prefix of a valid head is incomplete, never an error") {
    auto check_prefixes = [](std::string_view raw, auto parse) {
        HeadParseResult full = parse(Bytes(raw).view(), nullptr);
        REQUIRE(full.status == HeadStatus::kComplete);
        HeadScanState scan;
        for (size_t len = 0; len < raw.size(); ++len) {
            Bytes prefix(raw.substr(0, len));
            HeadParseResult once = parse(prefix.view(), nullptr);
            HeadParseResult resumed = parse(prefix.view(), &scan);
            if (len < full.consumed) {
                REQUIRE(once.status == HeadStatus::kIncomplete);
                REQUIRE(once.error == HttpError::kNone);
                REQUIRE(resumed.status == HeadStatus::kIncomplete);
            } else {
                REQUIRE(same(once, full));
                REQUIRE(same(resumed, full));
            }
        }
    };
    for (const http_corpus::ValidRequest& c : http_corpus::kValidRequests) {
        CAPTURE(c.name);
        HttpRequestHead head;
        check_prefixes(c.raw, [&](std::string_view s, HeadScanState* scan) {
            return parse_request_head(s, HttpLimits{}, head, scan);
        });
    }
    for (const http_corpus::ValidResponse& c : http_corpus::kValidResponses) {
        CAPTURE(c.name);
        HttpResponseHead head;
        check_prefixes(c.raw, [&](std::string_view s, HeadScanState* scan) {
            return parse_response_head(s, c.request_method, HttpLimits{}, head, scan);
        });
    }
}

TEST_CASE("heads fail early, before their end arrives") {
    HttpRequestHead head;
    auto early = [&](std::string_view s) { return parse_request_head(Bytes(s).view(), HttpLimits{}, head).error; };
    CHECK(early("\x16\x03\x01\x02\x00\x01") == HttpError::kBadMethod);  // a TLS ClientHello
    CHECK(early("GET  /") == HttpError::kBadRequestLine);
    CHECK(early("GET / HTTQ") == HttpError::kBadVersion);
    CHECK(early("GET / HTTP/1.1\r\r") == HttpError::kBareCr);
    CHECK(early("GET / HTTP/9.9\r\nHost") == HttpError::kVersionNotSupported);
    CHECK(early("GET / HTTP/1.1\nHo") == HttpError::kBareLf);
    CHECK(early("GET / HTTP/1.1\r\n") == HttpError::kNone);  // incomplete, fine so far

    std::string target = "GET /" + std::string(HttpLimits{}.max_uri_bytes - 1, 'a');
    CHECK(early(target) == HttpError::kNone);  // exactly max_uri_bytes so far
    CHECK(early(target + "a") == HttpError::kUriTooLong);

    std::string huge = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(HttpLimits{}.max_header_bytes, 'a');
    CHECK(early(huge) == HttpError::kHeadersTooLarge);
    CHECK(http_status(early(huge)) == 431);

    HttpResponseHead response;
    CHECK(parse_response_head(Bytes("HTTP/1.1 2x").view(), HttpMethod::kGet, HttpLimits{}, response).error ==
          HttpError::kBadStatusLine);
}

TEST_CASE("limits: header bytes, header count, URI, body, trailers") {
    HttpRequestHead head;
    SUBCASE("header block of exactly max_header_bytes") {
        std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n";
        HttpLimits limits;
        limits.max_header_bytes = raw.size() + 10;
        raw.insert(raw.find("X: ") + 3, std::string(10, 'v'));
        CHECK(parse_request_head(Bytes(raw).view(), limits, head).status == HeadStatus::kComplete);
        limits.max_header_bytes -= 1;
        CHECK(parse_request_head(Bytes(raw).view(), limits, head).error == HttpError::kHeadersTooLarge);
    }
    SUBCASE("header count") {
        HttpLimits limits;
        std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n";
        for (size_t i = 1; i < limits.max_header_count; ++i) raw += "X-" + std::to_string(i) + ": v\r\n";
        CHECK(parse_request_head(Bytes(raw + "\r\n").view(), limits, head).status == HeadStatus::kComplete);
        CHECK(head.headers.size() == limits.max_header_count);
        HeadParseResult r = parse_request_head(Bytes(raw + "X-last: v\r\n\r\n").view(), limits, head);
        CHECK(r.error == HttpError::kTooManyHeaders);
        CHECK(http_status(r.error) == 431);
    }
    SUBCASE("URI length") {
        HttpLimits limits;
        limits.max_uri_bytes = 10;
        CHECK(parse_request_head(Bytes("GET /123456789 HTTP/1.1\r\nHost: h\r\n\r\n").view(), limits, head).status ==
              HeadStatus::kComplete);
        Bytes too_long("GET /1234567890 HTTP/1.1\r\nHost: h\r\n\r\n");
        HeadParseResult r = parse_request_head(too_long.view(), limits, head);
        CHECK(r.error == HttpError::kUriTooLong);
        CHECK(http_status(r.error) == 414);
    }
    SUBCASE("Content-Length above max_body_bytes") {
        HttpLimits limits;
        limits.max_body_bytes = 10;
        CHECK(request_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits) ==
              HttpError::kNone);
        HttpError e = request_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits);
        CHECK(e == HttpError::kBodyTooLarge);
        CHECK(http_status(e) == 413);
    }
    SUBCASE("chunked running total above max_body_bytes, reported at the size line") {
        HttpLimits limits;
        limits.max_body_bytes = 10;
        BodyDecoder decoder(BodyFraming::kChunked, 0, limits);
        CHECK(decode_whole(decoder, "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n").status == BodyStatus::kDone);
        Drained d;
        feed(decoder, "5\r\nhello\r\n6", d);
        CHECK(d.status == BodyStatus::kMore);
        feed(decoder, "\r", d);  // the size is known: no need to wait for its data
        CHECK(d.status == BodyStatus::kError);
        CHECK(d.error == HttpError::kBodyTooLarge);
    }
    SUBCASE("until-close body above max_body_bytes") {
        HttpLimits limits;
        limits.max_body_bytes = 5;
        CHECK(decode_whole(BodyDecoder(BodyFraming::kUntilClose, 0, limits), "12345").status == BodyStatus::kMore);
        CHECK(decode_whole(BodyDecoder(BodyFraming::kUntilClose, 0, limits), "123456").error ==
              HttpError::kBodyTooLarge);
    }
    SUBCASE("trailer section and chunk line") {
        HttpLimits limits;
        limits.max_trailer_bytes = 14;
        BodyDecoder decoder(BodyFraming::kChunked, 0, limits);
        CHECK(decode_whole(decoder, "0\r\nX-Fourteen: \r\n\r\n").status == BodyStatus::kDone);  // 14 bytes
        CHECK(decode_whole(decoder, "0\r\nX-Fifteen: 12\r\n\r\n").error == HttpError::kTrailersTooLarge);
        limits.max_trailer_bytes = 0;
        BodyDecoder no_trailers(BodyFraming::kChunked, 0, limits);
        CHECK(decode_whole(no_trailers, "0\r\n\r\n").status == BodyStatus::kDone);
        CHECK(decode_whole(no_trailers, "0\r\nX: 1\r\n\r\n").error == HttpError::kTrailersTooLarge);
        std::string ext = "5";
        while (ext.size() < lbd::l7::kMaxChunkLineBytes) ext += ";a";
        CHECK(decode_whole(decoder, ext + "\r\nhello\r\n").error == HttpError::kChunkLineTooLong);
    }
}

TEST_CASE("pipelined requests in one buffer") {
    Bytes in("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
             "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
             "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
             "GET /d HTTP/1.1\r\nHost: h\r\n\r\n");
    std::string_view rest = in.view();
    std::vector<std::string> targets;
    std::string bodies;
    HttpRequestHead head;  // one head, reused: its header vector is allocated once
    const HttpHeader* storage = nullptr;
    while (!rest.empty()) {
        HeadParseResult r = parse_request_head(rest, HttpLimits{}, head);
        REQUIRE(r.status == HeadStatus::kComplete);
        if (storage == nullptr) storage = head.headers.data();
        CHECK(head.headers.data() == storage);
        targets.emplace_back(head.target);
        rest.remove_prefix(r.consumed);
        BodyDecoder decoder(head, HttpLimits{});
        for (;;) {
            BodyResult b = decoder.decode(rest);
            bodies.append(b.data);
            rest.remove_prefix(b.consumed);
            if (b.status != BodyStatus::kMore) {
                REQUIRE(b.status == BodyStatus::kDone);
                break;
            }
        }
    }
    CHECK(targets == std::vector<std::string>{"/a", "/b", "/c", "/d"});
    CHECK(bodies == "abcde");
    CHECK_FALSE(head.has_content_length);  // cleared between messages
}

TEST_CASE("hop-by-hop fields and Connection options") {
    Bytes in("GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Secret\r\nKeep-Alive: timeout=5\r\n"
             "X-Secret: 1\r\nx-secret: 2\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\n"
             "Proxy-Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nAccept: */*\r\n\r\n");
    HttpRequestHead head;
    REQUIRE(parse_request_head(in.view(), HttpLimits{}, head).status == HeadStatus::kComplete);
    std::vector<std::string> forwarded;
    for (size_t i = 0; i < head.headers.size(); ++i) {
        if (!is_hop_by_hop(head, i)) forwarded.emplace_back(head.headers[i].name);
    }
    CHECK(forwarded == std::vector<std::string>{"Host", "Accept"});
    CHECK_FALSE(is_hop_by_hop(head, head.headers.size()));
    CHECK(connection_lists(head, "x-SECRET"));
    CHECK(connection_lists(head, "close"));
    CHECK_FALSE(connection_lists(head, "accept"));
    CHECK(head.connection_close);
    CHECK_FALSE(head.keep_alive);
    CHECK(head.upgrade == "h2c");
    CHECK_FALSE(head.upgrade_requested);  // Connection does not list upgrade
}

TEST_CASE("list elements and case-insensitive compare") {
    std::string_view rest = " , a ,, b\t,c , ";
    std::vector<std::string> elements;
    while (auto e = next_list_element(rest)) elements.emplace_back(*e);
    CHECK(elements == std::vector<std::string>{"a", "b", "c"});
    CHECK(iequals("Content-Length", "content-length"));
    CHECK_FALSE(iequals("Content-Length", "Content-Lengt"));
    CHECK_FALSE(iequals("a\xc1", "a\xe1"));  // ASCII only
}

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
               lbd::l7::to_string(growing.error) + " vs " + std::to_string(int(whole.status)) + "/" +
               lbd::l7::to_string(whole.error) + " limits " + std::to_string(limits.max_header_bytes);
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
