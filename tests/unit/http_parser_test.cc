// Unit tests for the HTTP/1.1 head parser (core/http1/parser.h): the corpus of valid, malformed
// and smuggling messages (http_corpus.h), prefixes, early failures, limits, pipelining and
// hop-by-hop fields. Bodies and the fuzz loop are in http_body_test.cc.
#include <doctest/doctest.h>

#include "tests/unit/http_test_kit.h"

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
        CHECK(lbd::http1::to_string(r.error) == std::string(lbd::http1::to_string(c.error)));
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
        CHECK(lbd::http1::to_string(r.error) == std::string(lbd::http1::to_string(c.error)));
    }
}

TEST_CASE("request smuggling attempts are refused") {
    for (const http_corpus::MalformedMessage& c : http_corpus::kSmuggling) {
        CAPTURE(c.name);
        CHECK(lbd::http1::to_string(request_error(c.raw)) == std::string(lbd::http1::to_string(c.error)));
    }
}

TEST_CASE("malformed chunked bodies, whole and byte by byte") {
    for (const http_corpus::MalformedMessage& c : http_corpus::kMalformedChunked) {
        CAPTURE(c.name);
        BodyDecoder decoder(BodyFraming::kChunked, 0, HttpLimits{});
        Drained whole = decode_whole(decoder, c.raw);
        CHECK(whole.status == BodyStatus::kError);
        CHECK(lbd::http1::to_string(whole.error) == std::string(lbd::http1::to_string(c.error)));
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
    CHECK(std::string(lbd::http1::to_string(HttpError::kContentLengthAndTransferEncoding)) ==
          "content-length and transfer-encoding together");
    // Every reason has its own text.
    std::set<std::string> texts;
    for (int e = 0; e < static_cast<int>(HttpError::kCount); ++e) {
        std::string text = lbd::http1::to_string(static_cast<HttpError>(e));
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
        while (ext.size() < lbd::http1::kMaxChunkLineBytes) ext += ";a";
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
