// Unit tests for the PROXY protocol codec (core/net/proxy_protocol.h).
#include "core/net/proxy_protocol.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using lbd::SocketAddress;
using lbd::encode_proxy_v1;
using lbd::encode_proxy_v2;
using lbd::encode_proxy_v2_local;
using lbd::kProxyV1MaxLength;
using lbd::kProxyV2MaxLength;
using lbd::parse_proxy_header;
using lbd::ProxyParseResult;
using lbd::ProxyParseStatus;

using Bytes = std::vector<uint8_t>;

const Bytes kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Parses a heap copy of exactly the given bytes, so ASan catches any read past `len`.
ProxyParseResult parse(const Bytes& b) { return parse_proxy_header(b.empty() ? nullptr : b.data(), b.size()); }
ProxyParseResult parse(const std::string& s) { return parse(bytes_of(s)); }

SocketAddress addr(const char* text) {
    auto a = SocketAddress::parse(text);
    REQUIRE(a.has_value());
    return *a;
}

// A v2 header: signature, ver_cmd, fam, length from the body, body.
Bytes v2(uint8_t ver_cmd, uint8_t fam, const Bytes& body) {
    Bytes out = kSig;
    out.push_back(ver_cmd);
    out.push_back(fam);
    out.push_back(static_cast<uint8_t>(body.size() >> 8));
    out.push_back(static_cast<uint8_t>(body.size() & 0xff));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

// TCP4 address block 10.0.0.1:1000 -> 10.0.0.2:80.
const Bytes kInetBlock = {10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xE8, 0x00, 0x50};

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

void check_invalid(const Bytes& b) {
    ProxyParseResult r = parse(b);
    CHECK(r.status == ProxyParseStatus::kInvalid);
    CHECK(r.error != nullptr);
    CHECK(r.consumed == 0);
}

void check_invalid(const std::string& s) {
    CAPTURE(s);
    check_invalid(bytes_of(s));
}

}  // namespace

TEST_CASE("v1 TCP4 round trip") {
    SocketAddress src = addr("192.168.0.1:56324");
    SocketAddress dst = addr("192.168.0.11:443");
    std::string h = encode_proxy_v1(src, dst);
    CHECK(h == "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");  // section 2.1 example
    ProxyParseResult r = parse(h);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == h.size());
    CHECK(r.header.version == 1);
    CHECK_FALSE(r.header.local);
    CHECK(r.header.source == src);
    CHECK(r.header.destination == dst);
    CHECK(r.error == nullptr);
}

TEST_CASE("v1 TCP6 round trip") {
    SocketAddress src = addr("[2001:db8::1]:65535");
    SocketAddress dst = addr("[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:0");
    std::string h = encode_proxy_v1(src, dst);
    CHECK(h == "PROXY TCP6 2001:db8::1 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff 65535 0\r\n");
    ProxyParseResult r = parse(h);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == h.size());
    CHECK(r.header.version == 1);
    CHECK_FALSE(r.header.local);
    CHECK(r.header.source == src);
    CHECK(r.header.destination == dst);
}

TEST_CASE("v1 UNKNOWN round trip and forms") {
    std::string h = encode_proxy_v1(SocketAddress(), SocketAddress());
    CHECK(h == "PROXY UNKNOWN\r\n");
    ProxyParseResult r = parse(h);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 15);
    CHECK(r.header.version == 1);
    CHECK(r.header.local);

    // Section 2.1: the receiver ignores anything after UNKNOWN up to the CRLF.
    std::string longer = "PROXY UNKNOWN ffff:f...f:ffff garbage 65535 65535\r\n";
    r = parse(longer);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == longer.size());
    CHECK(r.header.local);
}

TEST_CASE("v1 mixed family encodes as TCP6 with v4-mapped addresses") {
    SocketAddress src = addr("192.0.2.7:1234");
    SocketAddress dst = addr("[2001:db8::2]:80");
    std::string h = encode_proxy_v1(src, dst);
    CHECK(h == "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::2 1234 80\r\n");
    ProxyParseResult r = parse(h);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.header.source.is_v6());
    CHECK(r.header.source.unmapped() == src);
    CHECK(r.header.destination == dst);

    std::string h2 = encode_proxy_v2(dst, src);
    ProxyParseResult r2 = parse(bytes_of(h2));
    REQUIRE(r2.status == ProxyParseStatus::kComplete);
    CHECK(r2.header.v2_family == 0x21);
    CHECK(r2.header.source == dst);
    CHECK(r2.header.destination.unmapped() == src);
}

TEST_CASE("v1 edge values") {
    // 107 bytes exactly, CRLF included, is the maximum (section 2.1).
    std::string at_max = "PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 16, 'x') + "\r\n";
    REQUIRE(at_max.size() == kProxyV1MaxLength);
    CHECK(parse(at_max).status == ProxyParseStatus::kComplete);
    std::string over = "PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 15, 'x') + "\r\n";
    check_invalid(over);

    ProxyParseResult r = parse(std::string("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.header.source.port() == 0);
    CHECK(r.header.destination.port() == 65535);
    // Upper-case hex is allowed in IPv6 (section 2.1).
    CHECK(parse(std::string("PROXY TCP6 2001:DB8::A :: 1 2\r\n")).status == ProxyParseStatus::kComplete);
}

TEST_CASE("IPv4 text of every octet width, as X-Forwarded-For and the v1 header write it") {
    CHECK(addr("0.0.0.0:1").ip_string() == "0.0.0.0");
    CHECK(addr("255.255.255.255:1").ip_string() == "255.255.255.255");
    CHECK(addr("10.0.100.7:1").ip_string() == "10.0.100.7");
    CHECK(addr("1.22.103.9:65535").to_string() == "1.22.103.9:65535");
    CHECK(encode_proxy_v1(addr("9.99.199.0:1"), addr("100.10.1.200:2")) == "PROXY TCP4 9.99.199.0 100.10.1.200 1 2\r\n");
}

TEST_CASE("v2 TCP4 round trip") {
    SocketAddress src = addr("203.0.113.9:40000");
    SocketAddress dst = addr("198.51.100.1:8443");
    std::string h = encode_proxy_v2(src, dst);
    CHECK(h.size() == 28);
    ProxyParseResult r = parse(bytes_of(h));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 28);
    CHECK(r.header.version == 2);
    CHECK_FALSE(r.header.local);
    CHECK(r.header.v2_family == 0x11);
    CHECK(r.header.source == src);
    CHECK(r.header.destination == dst);
}

TEST_CASE("v2 TCP6 round trip") {
    SocketAddress src = addr("[2001:db8::dead:beef]:1");
    SocketAddress dst = addr("[::1]:65535");
    std::string h = encode_proxy_v2(src, dst);
    CHECK(h.size() == 52);
    ProxyParseResult r = parse(bytes_of(h));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 52);
    CHECK(r.header.version == 2);
    CHECK_FALSE(r.header.local);
    CHECK(r.header.source == src);
    CHECK(r.header.destination == dst);
}

TEST_CASE("v2 LOCAL round trip") {
    std::string h = encode_proxy_v2_local();
    CHECK(bytes_of(h) == concat(kSig, {0x20, 0x00, 0x00, 0x00}));
    ProxyParseResult r = parse(bytes_of(h));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 16);
    CHECK(r.header.version == 2);
    CHECK(r.header.local);

    // Non-IP addresses encode as PROXY + UNSPEC, which parses as local.
    std::string u = encode_proxy_v2(SocketAddress(), SocketAddress());
    CHECK(bytes_of(u) == concat(kSig, {0x21, 0x00, 0x00, 0x00}));
    r = parse(bytes_of(u));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.header.local);
}

TEST_CASE("v2 byte-exact encoding") {
    // Section 2.2 layout: sig(12) ver_cmd fam len(2) src_addr dst_addr src_port dst_port.
    // 192.168.0.1:56324 -> 192.168.0.11:443, the section 2.1 example, in binary.
    const Bytes expected4 = {
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
        0x21,                                                                    // v2, PROXY
        0x11,                                                                    // TCP over IPv4
        0x00, 0x0C,                                                              // 12 bytes follow
        0xC0, 0xA8, 0x00, 0x01,                                                  // 192.168.0.1
        0xC0, 0xA8, 0x00, 0x0B,                                                  // 192.168.0.11
        0xDC, 0x04,                                                              // 56324
        0x01, 0xBB,                                                              // 443
    };
    CHECK(bytes_of(encode_proxy_v2(addr("192.168.0.1:56324"), addr("192.168.0.11:443"))) == expected4);

    const Bytes expected6 = {
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
        0x21,                                                                    // v2, PROXY
        0x21,                                                                    // TCP over IPv6
        0x00, 0x24,                                                              // 36 bytes follow
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,           // 2001:db8::1
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,           // 2001:db8::2
        0x04, 0xD2,                                                              // 1234
        0x00, 0x50,                                                              // 80
    };
    CHECK(bytes_of(encode_proxy_v2(addr("[2001:db8::1]:1234"), addr("[2001:db8::2]:80"))) == expected6);
}

TEST_CASE("trailing client data is not consumed") {
    std::string v1 = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    ProxyParseResult r = parse(v1 + "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == v1.size());

    // A trailing "\n" right after the CRLF, or the client's own CR/LF bytes, change nothing.
    r = parse(std::string("PROXY UNKNOWN\r\n\n\r\r\n"));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 15);

    Bytes h2 = bytes_of(encode_proxy_v2(addr("10.1.2.3:5"), addr("10.3.2.1:6")));
    Bytes with_data = concat(h2, bytes_of("\x16\x03\x01 client hello"));
    r = parse(with_data);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == h2.size());

    // Client data that looks like another header is still the client's.
    r = parse(concat(h2, h2));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == h2.size());

    Bytes local = bytes_of(encode_proxy_v2_local());
    r = parse(concat(local, {0xff, 0x00, 0x01}));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 16);
}

TEST_CASE("every prefix of a valid header needs more") {
    std::vector<Bytes> valid = {
        bytes_of("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
        bytes_of("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"),
        bytes_of("PROXY TCP6 :: :: 0 0\r\n"),
        bytes_of("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::ffff:255.255.255.255 65535 65535\r\n"),
        bytes_of("PROXY UNKNOWN\r\n"),
        bytes_of("PROXY UNKNOWN whatever\r\n"),
        bytes_of(encode_proxy_v2(addr("1.2.3.4:5"), addr("6.7.8.9:10"))),
        bytes_of(encode_proxy_v2(addr("[::1]:5"), addr("[::2]:10"))),
        bytes_of(encode_proxy_v2_local()),
        v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00, 0x02, 0xAA, 0xBB, 0x01, 0x00, 0x02, 'h', '2'})),
        v2(0x20, 0x00, {1, 2, 3, 4, 5}),
    };
    for (const Bytes& full : valid) {
        REQUIRE(parse(full).status == ProxyParseStatus::kComplete);
        for (size_t k = 0; k < full.size(); ++k) {
            Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(k));
            ProxyParseResult r = parse(prefix);
            CAPTURE(std::string(full.begin(), full.end()));
            CAPTURE(k);
            CHECK(r.status == ProxyParseStatus::kNeedMore);
            CHECK(r.need_at_least > k);
            CHECK(r.need_at_least <= full.size());
            CHECK(r.consumed == 0);
        }
    }
    // Bounds that are exact: the v2 fixed part, then 16 + length; a v1 line whose CR arrived.
    CHECK(parse(Bytes(kSig.begin(), kSig.begin() + 3)).need_at_least == 16);
    CHECK(parse(v2(0x21, 0x11, kInetBlock)).consumed == 28);
    Bytes v2_16 = v2(0x21, 0x11, kInetBlock);
    v2_16.resize(16);
    CHECK(parse(v2_16).need_at_least == 28);
    CHECK(parse(std::string("PROXY UNKNOWN\r")).need_at_least == 15);
    CHECK(parse(std::string("")).need_at_least == 15);
}

TEST_CASE("malformed v1 is invalid") {
    check_invalid("garbage");
    check_invalid("garbage\r\n");
    check_invalid("GET / HTTP/1.1\r\n");
    check_invalid("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    check_invalid("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    // Double spaces (section 2.1: "exactly one space").
    check_invalid("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n");
    // Missing CRLF within 107 bytes.
    check_invalid("PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 14, 'a'));
    check_invalid("PROXY UNKNOWN " + std::string(200, 'a'));
    check_invalid("PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 15, 'a'));  // 106: CRLF can't fit
    CHECK(parse("PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 16, 'a')).status == ProxyParseStatus::kNeedMore);
    // Bad addresses.
    check_invalid("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");  // heading zero
    check_invalid("PROXY TCP4 1.2.3.4 x.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP6 2001:db8:::1 ::1 1 2\r\n");
    check_invalid("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n");
    // Bad ports.
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 0x50\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n");
    // Family mismatch.
    check_invalid("PROXY TCP4 ::1 ::1 1 2\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 ::1 1 2\r\n");
    check_invalid("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n");
    check_invalid("PROXY TCP6 ::1 5.6.7.8 1 2\r\n");
    // Line endings (section 2.1: no lone CR or LF).
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n");
    check_invalid("PROXY UNKNOWN\n");
    check_invalid("PROXY UNKNOWN\rGET");
    check_invalid("PROXY \r\n");
    // Structure.
    check_invalid("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
    check_invalid("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n");
    check_invalid("PROXY UNKNOWNX\r\n");
    check_invalid("PROXY TCP4\r\n");
    check_invalid("PROXY TCP4 \r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8\r\n");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
    check_invalid(std::string("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 34));
}

TEST_CASE("v1 is rejected as soon as a byte cannot fit") {
    // No CRLF yet, but these can never become valid.
    check_invalid("PROXY TCP4 ::");
    check_invalid("PROXY TCP4 1.2.3.4  ");
    check_invalid("PROXY TCP7");
    check_invalid("PROXY X");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 00");  // leading zero
    CHECK(parse(std::string("PROXY TCP4 1.2.3.4 5.6.7.8 0")).status == ProxyParseStatus::kNeedMore);
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ");
    check_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX");
    check_invalid("PROXY TCP4 1.2.3.999 ");
    check_invalid("PROXX");
    check_invalid("\r\n\r\n\x01");
    check_invalid(concat(kSig, {0x11}));  // version 1 in the v2 version nibble
    check_invalid(concat(kSig, {0x21, 0x13}));
}

TEST_CASE("malformed v2 is invalid") {
    check_invalid(bytes_of("\r\n\r\nX"));
    check_invalid(concat({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B}, {0x21, 0x11, 0, 0}));
    // Version nibble must be 2 (section 2.2).
    check_invalid(v2(0x11, 0x11, kInetBlock));
    check_invalid(v2(0x31, 0x11, kInetBlock));
    check_invalid(v2(0x01, 0x11, kInetBlock));
    // Command must be LOCAL or PROXY.
    check_invalid(v2(0x22, 0x11, kInetBlock));
    check_invalid(v2(0x2F, 0x11, kInetBlock));
    // Unlisted family / transport bytes with PROXY.
    for (uint8_t fam : {0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x30, 0x33, 0x41, 0xFF}) {
        CAPTURE(int(fam));
        check_invalid(v2(0x21, fam, Bytes(216, 0)));
    }
    // Length too short for the family's address block.
    check_invalid(v2(0x21, 0x11, Bytes(11, 0)));
    check_invalid(v2(0x21, 0x11, Bytes()));
    check_invalid(v2(0x21, 0x21, Bytes(35, 0)));
    check_invalid(v2(0x21, 0x21, Bytes(12, 0)));
    check_invalid(v2(0x21, 0x12, Bytes(11, 0)));
    check_invalid(v2(0x21, 0x31, Bytes(215, 0)));
    // The length check fires on the fixed 16 bytes, before the rest arrives.
    Bytes short_len = concat(kSig, {0x21, 0x21, 0x00, 0x0C});
    check_invalid(short_len);
    // TLV overrunning the header.
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00, 0x0A, 0x01, 0x02})));
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00, 0x00, 0x01, 0xFF, 0xFF})));
    check_invalid(v2(0x21, 0x21, concat(Bytes(36, 0), {0x01, 0x00, 0x01})));
    // ...even when the overrun would land in the client's bytes that follow.
    check_invalid(concat(v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00, 0x04, 0x01})), {2, 3, 4, 5, 6}));
    // Truncated TLV header (fewer than 3 bytes left).
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x04})));
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00})));
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00, 0x00, 0x04, 0x00})));
}

TEST_CASE("v2 TLVs are walked and skipped") {
    Bytes body = concat(kInetBlock, {0x04, 0x00, 0x00,                      // NOOP, empty (section 2.2.4)
                                     0x01, 0x00, 0x02, 'h', '2',            // ALPN
                                     0x02, 0x00, 0x03, 'a', '.', 'b',       // AUTHORITY
                                     0x20, 0x00, 0x05, 0x00, 0, 0, 0, 0,    // SSL, no sub-TLVs
                                     0xE0, 0x00, 0x01, 0x7F});              // custom range
    Bytes h = v2(0x21, 0x11, body);
    ProxyParseResult r = parse(h);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == h.size());
    CHECK(r.header.source == addr("10.0.0.1:1000"));
    CHECK(r.header.destination == addr("10.0.0.2:80"));

    // Largest possible header: 16 + 65535 bytes, padded with one big NOOP TLV.
    Bytes big_body = kInetBlock;
    size_t pad = 0xFFFF - kInetBlock.size() - 3;
    big_body.push_back(0x04);
    big_body.push_back(static_cast<uint8_t>(pad >> 8));
    big_body.push_back(static_cast<uint8_t>(pad & 0xff));
    big_body.resize(0xFFFF, 0xAB);
    Bytes big = v2(0x21, 0x11, big_body);
    REQUIRE(big.size() == kProxyV2MaxLength);
    r = parse(big);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == kProxyV2MaxLength);
    big.resize(100);
    r = parse(big);
    CHECK(r.status == ProxyParseStatus::kNeedMore);
    CHECK(r.need_at_least == kProxyV2MaxLength);
}

TEST_CASE("v2 CRC32C TLV is verified") {
    // 192.0.2.1:12345 -> 198.51.100.2:443 with a CRC32C TLV and a NOOP TLV; the checksum was
    // computed independently (bitwise CRC32c, check value 0xE3069283 for "123456789").
    const Bytes good = {
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x18,
        0xC0, 0x00, 0x02, 0x01, 0xC6, 0x33, 0x64, 0x02, 0x30, 0x39, 0x01, 0xBB,  // addresses
        0x03, 0x00, 0x04, 0xA6, 0x5C, 0x67, 0xBC,                                // CRC32C
        0x04, 0x00, 0x02, 0x00, 0x00,                                            // NOOP
    };
    ProxyParseResult r = parse(good);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == good.size());
    CHECK(r.header.source == addr("192.0.2.1:12345"));

    for (size_t i : {size_t{16}, size_t{24}, size_t{31}, size_t{34}, size_t{39}}) {
        Bytes bad = good;
        bad[i] ^= 0x01;
        CAPTURE(i);
        check_invalid(bad);
    }
    // Wrong CRC32C value length, and two CRC32C TLVs.
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x03, 0x00, 0x03, 0, 0, 0})));
    check_invalid(v2(0x21, 0x11, concat(kInetBlock, {0x03, 0x00, 0x04, 0, 0, 0, 0, 0x03, 0x00, 0x04, 0, 0, 0, 0})));
}

TEST_CASE("v2 family handling") {
    // UDP and UNIX fall back to UNSPEC mode (section 2.2): complete, local, raw byte kept.
    for (uint8_t fam : {0x12, 0x22, 0x31, 0x32}) {
        CAPTURE(int(fam));
        size_t block = fam == 0x12 ? 12 : fam == 0x22 ? 36 : 216;
        Bytes h = v2(0x21, fam, Bytes(block, 0x41));
        ProxyParseResult r = parse(h);
        REQUIRE(r.status == ProxyParseStatus::kComplete);
        CHECK(r.consumed == h.size());
        CHECK(r.header.local);
        CHECK(r.header.v2_family == fam);
        // Their TLVs are still walked.
        check_invalid(v2(0x21, fam, concat(Bytes(block, 0x41), {0x04, 0x00})));
    }
    // PROXY + UNSPEC: local, address information ignored.
    ProxyParseResult r = parse(v2(0x21, 0x00, kInetBlock));
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.header.local);
    CHECK(r.consumed == 28);
    // LOCAL: family ignored, length still honoured (section 2.2: "must not assume zero").
    for (uint8_t fam : {0x00, 0x11, 0x21, 0x13, 0xFF}) {
        CAPTURE(int(fam));
        r = parse(v2(0x20, fam, kInetBlock));
        REQUIRE(r.status == ProxyParseStatus::kComplete);
        CHECK(r.header.local);
        CHECK(r.consumed == 28);
        r = parse(v2(0x20, fam, Bytes()));
        REQUIRE(r.status == ProxyParseStatus::kComplete);
        CHECK(r.consumed == 16);
    }
    // Longer-than-needed address block with TLVs after it: the TCP addresses are still read.
    Bytes h6 = bytes_of(encode_proxy_v2(addr("[2001:db8::1]:1"), addr("[2001:db8::2]:2")));
    h6[15] = 36 + 3;
    h6.insert(h6.end(), {0x04, 0x00, 0x00});
    r = parse(h6);
    REQUIRE(r.status == ProxyParseStatus::kComplete);
    CHECK(r.consumed == 52 + 3);
    CHECK(r.header.source == addr("[2001:db8::1]:1"));
}

namespace {

// Invariants that must hold for any input.
void check_invariants(const Bytes& b) {
    ProxyParseResult r = parse(b);
    switch (r.status) {
        case ProxyParseStatus::kComplete:
            REQUIRE(r.consumed > 0);
            REQUIRE(r.consumed <= b.size());
            REQUIRE(r.error == nullptr);
            REQUIRE((r.header.version == 1 || r.header.version == 2));
            if (!r.header.local) {
                REQUIRE((r.header.source.is_v4() || r.header.source.is_v6()));
                REQUIRE(r.header.source.family() == r.header.destination.family());
            }
            {
                // Only the header is looked at: the header alone parses the same way.
                Bytes head(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(r.consumed));
                ProxyParseResult again = parse(head);
                REQUIRE(again.status == ProxyParseStatus::kComplete);
                REQUIRE(again.consumed == r.consumed);
            }
            break;
        case ProxyParseStatus::kNeedMore:
            REQUIRE(r.need_at_least > b.size());
            REQUIRE(r.need_at_least <= kProxyV2MaxLength);
            REQUIRE(r.consumed == 0);
            break;
        case ProxyParseStatus::kInvalid:
            REQUIRE(r.error != nullptr);
            REQUIRE(r.consumed == 0);
            break;
    }
}

}  // namespace

TEST_CASE("fuzz: random buffers") {
    std::mt19937 rng(12345);
    const std::string v1_alphabet = "PROXY TCP46UNKNOWN0123456789abcdefABCDEF:. \r\n";
    auto byte = [&](unsigned bound) { return static_cast<unsigned>(rng() % bound); };
    size_t complete = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        Bytes b;
        size_t len = byte(130);
        switch (iter % 4) {
            case 0:  // raw random bytes
                break;
            case 1:  // starts like v1, then v1-ish characters
                b = bytes_of(iter % 8 == 1 ? "PROXY TCP4 " : "PROXY ");
                break;
            case 2:  // v2 signature, then random
                b = kSig;
                break;
            case 3:  // v2 signature and plausible fixed fields, short length
                b = kSig;
                b.push_back(static_cast<uint8_t>(0x20 | byte(2)));
                b.push_back(static_cast<uint8_t>(byte(2) ? 0x11 : 0x21));
                b.push_back(0);
                b.push_back(static_cast<uint8_t>(byte(80)));
                break;
        }
        while (b.size() < len) {
            if (iter % 4 == 1) {
                b.push_back(static_cast<uint8_t>(v1_alphabet[byte(static_cast<unsigned>(v1_alphabet.size()))]));
            } else {
                b.push_back(static_cast<uint8_t>(byte(256)));
            }
        }
        if (b.size() > len && iter % 3 == 0) b.resize(len);
        check_invariants(b);
        if (parse(b).status == ProxyParseStatus::kComplete) ++complete;
    }
    MESSAGE("random buffers that parsed as complete headers: " << complete);
}

TEST_CASE("fuzz: mutations of valid headers") {
    std::mt19937 rng(777);
    std::vector<Bytes> seeds = {
        bytes_of("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"),
        bytes_of("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n"),
        bytes_of("PROXY UNKNOWN\r\n"),
        bytes_of(encode_proxy_v2(addr("1.2.3.4:5"), addr("6.7.8.9:10"))),
        bytes_of(encode_proxy_v2(addr("[::1]:5"), addr("[::2]:10"))),
        bytes_of(encode_proxy_v2_local()),
        v2(0x21, 0x11, concat(kInetBlock, {0x04, 0x00, 0x02, 0xAA, 0xBB, 0x03, 0x00, 0x04, 1, 2, 3, 4})),
    };
    auto pick = [&](size_t bound) { return static_cast<size_t>(rng() % bound); };
    for (int iter = 0; iter < 200000; ++iter) {
        Bytes b = seeds[pick(seeds.size())];
        int edits = 1 + static_cast<int>(pick(4));
        for (int e = 0; e < edits; ++e) {
            switch (pick(5)) {
                case 0:  // flip a bit
                    if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << pick(8));
                    break;
                case 1:  // overwrite a byte
                    if (!b.empty()) b[pick(b.size())] = static_cast<uint8_t>(pick(256));
                    break;
                case 2:  // truncate
                    b.resize(pick(b.size() + 1));
                    break;
                case 3:  // insert a byte
                    b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), static_cast<uint8_t>(pick(256)));
                    break;
                case 4:  // delete a byte
                    if (!b.empty()) b.erase(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size())));
                    break;
            }
        }
        check_invariants(b);
    }
}
