// PROXY protocol v1 (text) and v2 (binary) codec, as pure functions over byte buffers.
//
// Spec: haproxy doc/proxy-protocol.txt ("The PROXY protocol, Versions 1 & 2"); section numbers
// in comments here and in proxy_protocol.cc refer to it. No sockets, no allocation on the parse
// path, no exceptions: untrusted bytes in, a status value out. Every function is reentrant and
// thread-safe (no shared state).
//
// Choices the spec leaves open, made here:
//  - Mixed-family encode (v4 source + v6 destination or the reverse): the v4 side is written as a
//    v4-mapped v6 address (::ffff:a.b.c.d) and the header is TCP6 / \x21, so no information is
//    lost. A pair where either side is neither v4 nor v6 encodes as v1 "UNKNOWN" / v2 PROXY+UNSPEC.
//  - v1 ports with leading zeros ("080") are rejected (section 2.1 forbids heading zeroes); "0"
//    is accepted. IPv4 addresses with heading zeroes are rejected too (inet_pton does).
//  - v1 "UNKNOWN": anything up to CRLF is ignored (section 2.1), the header is `local`.
//  - v1 without a CR in its first 106 bytes is invalid at once: the CRLF could only end past byte
//    107 (section 2.1 limit).
//  - v2 LOCAL: the family byte and address block are ignored entirely (section 2.2, command \x0).
//  - v2 PROXY with UNSPEC (\x00), UDP (\x12, \x22) or UNIX (\x31, \x32): accepted as `local`, i.e.
//    "use the real connection endpoints" - the fallback to UNSPEC mode that section 2.2 allows a
//    receiver which does not implement a protocol byte. The raw byte is kept in `v2_family` so a
//    caller that wants to reject them can. Any other family byte is invalid.
//  - v2 TLVs (section 2.2) are walked and bounds-checked but not exposed. PP2_TYPE_CRC32C
//    (section 2.2.3) is verified when present; a mismatch makes the header invalid.
//  - v2 total length is 16 + a 16-bit length, so up to kProxyV2MaxLength (65551) bytes; accepted.
//  - v1 TCP6 addresses are returned as given: "::ffff:1.2.3.4" stays a v6 (mapped) address; use
//    SocketAddress::unmapped() if a v4 address is wanted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/net/address.h"

namespace lbd {

// Longest v1 line including CRLF (section 2.1, "worst case").
constexpr size_t kProxyV1MaxLength = 107;
// Shortest valid header of either version: "PROXY UNKNOWN\r\n" (section 2.1).
constexpr size_t kProxyMinLength = 15;
// Fixed part of a v2 header: signature(12) ver_cmd(1) fam(1) len(2) (section 2.2).
constexpr size_t kProxyV2FixedLength = 16;
// Longest v2 header: the length field is 16 bits (section 2.2).
constexpr size_t kProxyV2MaxLength = kProxyV2FixedLength + 0xffff;

struct ProxyHeader {
    int version = 0;            // 1 or 2
    bool local = false;         // v2 LOCAL command, or v1 "UNKNOWN", or v2 UNSPEC family: no addresses to use
    SocketAddress source;       // valid only when !local
    SocketAddress destination;  // valid only when !local
    uint8_t v2_family = 0;      // v2 only: the raw 14th byte (family << 4 | transport), 0 for v1
};

enum class ProxyParseStatus { kComplete, kNeedMore, kInvalid };

struct ProxyParseResult {
    ProxyParseStatus status = ProxyParseStatus::kInvalid;
    size_t consumed = 0;          // header length when kComplete
    size_t need_at_least = 0;     // when kNeedMore: total bytes needed before trying again (best known lower bound)
    ProxyHeader header;
    const char* error = nullptr;  // static string describing why, when kInvalid
};

// Detects v1 or v2 from the first bytes. Only looks at the header; bytes after it are the client's
// data: nothing past the first CR or LF (v1, at most 107 bytes) or past 16 + length (v2) is read,
// so trailing bytes never change the result. `data` may be null when `len` is 0.
//
// kNeedMore is returned only while the bytes so far can still become a valid header (a prefix of
// either signature, a v1 line whose every byte so far is allowed where it stands, a v2 header whose
// fixed fields so far are valid); anything that cannot is kInvalid at once (section 2.1 asks to
// abort "as soon as possible"). `need_at_least` is always > len and never more than the length of
// the shortest valid header starting with these bytes.
ProxyParseResult parse_proxy_header(const uint8_t* data, size_t len);

// Encoders: client `source` -> `destination` (normally the same family; see the mixed-family rule
// above). Return the header bytes.
std::string encode_proxy_v1(const SocketAddress& source, const SocketAddress& destination);
std::string encode_proxy_v2(const SocketAddress& source, const SocketAddress& destination);
// A v2 LOCAL header (health checks etc.): command \x0, family UNSPEC, no address block.
std::string encode_proxy_v2_local();

}  // namespace lbd
