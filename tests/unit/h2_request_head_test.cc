// An HTTP/2 request head to HTTP/1.1 (l7/h2_request_head.h): a pure function of the fields, as
// nghttp2 hands them over.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "l7/h2_request_head.h"

namespace lbd::l7 {
namespace {

using Fields = std::initializer_list<std::pair<const char*, const char*>>;

H2RequestHead head_of(Fields fields, size_t max = 16384) {
    H2RequestHead head(max);
    for (const auto& field : fields) head.add(field.first, field.second);
    return head;
}

const Fields kGet{{":method", "GET"}, {":scheme", "https"}, {":authority", "Example.com:8443"}, {":path", "/a/b?x=1"}};

TEST_CASE("pseudo-headers become the request line and Host; cookies joined; te dropped") {
    H2RequestHead head = head_of(kGet);
    head.add("cookie", "a=1");
    head.add("user-agent", "t");
    head.add("cookie", "b=2");
    head.add("te", "trailers");
    RequestInfo r;
    REQUIRE(head.translate(r, true));
    CHECK(r.method == "GET");
    CHECK(r.method_kind == HttpMethod::kGet);
    CHECK(r.path == "/a/b");
    CHECK(r.query == "?x=1");
    CHECK(r.host_header == "Example.com:8443");
    CHECK(r.host == "example.com");
    REQUIRE(r.headers.size() == 2);
    CHECK(r.headers[0] == std::pair<std::string, std::string>{"user-agent", "t"});
    CHECK(r.headers[1] == std::pair<std::string, std::string>{"cookie", "a=1; b=2"});
    CHECK(r.framing == BodyFraming::kNone);
}

TEST_CASE("host stands in for a missing :authority; neither is a 400") {
    H2RequestHead with_host = head_of({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h.test"}});
    RequestInfo r;
    REQUIRE(with_host.translate(r, true));
    CHECK(r.host_header == "h.test");
    CHECK(r.headers.empty());
    H2RequestHead neither = head_of({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}});
    RequestInfo r2;
    CHECK_FALSE(neither.translate(r2, true));
    H2RequestHead relative = head_of({{":method", "GET"}, {":authority", "a"}, {":path", "a/b"}});
    RequestInfo r3;
    CHECK_FALSE(relative.translate(r3, true));
}

TEST_CASE("body framing: content-length kept and checked, unknown length chunked, END_STREAM none") {
    H2RequestHead sized = head_of(kGet);
    sized.add("content-length", "42");
    RequestInfo r;
    REQUIRE(sized.translate(r, false));
    CHECK(r.framing == BodyFraming::kContentLength);
    CHECK(r.content_length == 42);
    CHECK(r.headers.empty());  // the driver writes Content-Length from the framing

    H2RequestHead unknown = head_of(kGet);
    RequestInfo r2;
    REQUIRE(unknown.translate(r2, false));
    CHECK(r2.framing == BodyFraming::kChunked);
    CHECK(r2.transfer_encoding == "chunked");

    // END_STREAM with the head and a non-zero content-length cannot both be true.
    H2RequestHead lying = head_of(kGet);
    lying.add("content-length", "5");
    RequestInfo r3;
    CHECK_FALSE(lying.translate(r3, true));
    // Two lengths, or one that is not a number within 64 bits: refused even if nghttp2 let it by.
    for (const char* bad : {"1, 1", "-1", "", "18446744073709551616", "0x10"}) {
        H2RequestHead h = head_of(kGet);
        h.add("content-length", bad);
        RequestInfo ri;
        CHECK_MESSAGE(!h.translate(ri, false), bad);
    }
    H2RequestHead twice = head_of(kGet);
    twice.add("content-length", "1");
    twice.add("content-length", "1");
    RequestInfo r4;
    CHECK_FALSE(twice.translate(r4, false));
}

TEST_CASE("the header list bound counts names and values plus 32 each") {
    H2RequestHead head = head_of(kGet, 200);
    CHECK_FALSE(head.too_large());
    head.add("x-big", std::string(100, 'v'));
    CHECK(head.too_large());
    CHECK(head.path() == "/a/b?x=1");
}

TEST_CASE("CONNECT and asterisk-form") {
    H2RequestHead connect = head_of({{":method", "CONNECT"}, {":authority", "h:443"}});
    RequestInfo r;
    REQUIRE(connect.translate(r, false));
    CHECK(r.target_form == TargetForm::kAuthority);
    H2RequestHead options = head_of({{":method", "OPTIONS"}, {":authority", "h"}, {":path", "*"}});
    RequestInfo r2;
    REQUIRE(options.translate(r2, true));
    CHECK(r2.target_form == TargetForm::kAsterisk);
    CHECK(r2.path == "*");
}

}  // namespace
}  // namespace lbd::l7

namespace lbd::l7 {
namespace {

const Fields kWebSocket{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "http"},
                        {":authority", "ws.example"}, {":path", "/chat?room=1"}};

TEST_CASE("an extended CONNECT (RFC 8441) becomes a GET upgrade without body framing; the client's key dropped") {
    H2RequestHead head = head_of(kWebSocket);
    head.add("sec-websocket-version", "13");
    head.add("sec-websocket-protocol", "chat");
    head.add("sec-websocket-key", "client-made");
    head.add("origin", "http://ws.example");
    CHECK(head.protocol() == "websocket");
    RequestInfo r;
    REQUIRE(head.translate(r, false));
    CHECK(r.method == "GET");
    CHECK(r.method_kind == HttpMethod::kGet);
    CHECK(r.target_form == TargetForm::kOrigin);
    CHECK(r.path == "/chat");
    CHECK(r.query == "?room=1");
    CHECK(r.upgrade);
    CHECK(r.upgrade_protocols == "websocket");
    CHECK(r.framing == BodyFraming::kNone);  // the stream stays open, but its DATA are the tunnel
    CHECK(find_header(r.headers, "sec-websocket-key") == nullptr);
    CHECK(*find_header(r.headers, "sec-websocket-protocol") == "chat");
    CHECK(*find_header(r.headers, "origin") == "http://ws.example");
    CHECK(serialize_request(r).find("Connection: upgrade\r\nUpgrade: websocket\r\n") != std::string::npos);
}

TEST_CASE("a :protocol that is not a token is refused (it would be the server's Upgrade)") {
    for (const char* protocol : {"we=A6h n9", "web socket", "a,b", ""}) {
        H2RequestHead head = head_of({{":method", "CONNECT"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}});
        head.add(":protocol", protocol);
        RequestInfo r;
        // An empty one is no :protocol: a plain CONNECT.
        CHECK_MESSAGE(head.translate(r, false) == (*protocol == '\0'), protocol);
        CHECK_FALSE(r.upgrade);
    }
}

TEST_CASE("a :protocol on anything but CONNECT, or with a content-length, is refused") {
    H2RequestHead get = head_of(kGet);
    get.add(":protocol", "websocket");
    RequestInfo r;
    CHECK_FALSE(get.translate(r, false));
    H2RequestHead length = head_of(kWebSocket);
    length.add("content-length", "5");
    RequestInfo r2;
    CHECK_FALSE(length.translate(r2, false));
    // A plain CONNECT stays what it was (answered 405 by the driver).
    H2RequestHead plain = head_of({{":method", "CONNECT"}, {":authority", "a:443"}});
    RequestInfo r3;
    REQUIRE(plain.translate(r3, false));
    CHECK(r3.target_form == TargetForm::kAuthority);
    CHECK_FALSE(r3.upgrade);
}

}  // namespace
}  // namespace lbd::l7
