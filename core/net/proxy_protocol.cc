// PROXY protocol v1/v2 codec. Section numbers refer to haproxy's doc/proxy-protocol.txt.
//
// Parse flow:
//
//   bytes --first byte--> 'P'  : prefix of "PROXY " ? --> parse_v1 (line up to CRLF, <= 107 bytes)
//                         '\r' : prefix of the v2 signature ? --> parse_v2 (16 + length bytes)
//                         else : kInvalid "not a PROXY header"
//
// Both parsers validate whatever has arrived so far, so a header that can no longer become valid
// is rejected on the byte that breaks it rather than after a timeout (section 2.1: "abort the
// connection as soon as possible").
#include "core/net/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

namespace lbd {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";

// Section 2.2: the constant 12-byte block that opens every v2 header.
constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// Section 2.2, 13th byte: version in the high nibble, command in the low one.
constexpr uint8_t kV2Version = 0x2;
constexpr uint8_t kV2CmdLocal = 0x0;
constexpr uint8_t kV2CmdProxy = 0x1;

// Section 2.2, 14th byte: the protocol bytes the spec lists ("In practice, the following protocol
// bytes are expected").
constexpr uint8_t kV2Unspec = 0x00;
constexpr uint8_t kV2Tcp4 = 0x11;
constexpr uint8_t kV2Udp4 = 0x12;
constexpr uint8_t kV2Tcp6 = 0x21;
constexpr uint8_t kV2Udp6 = 0x22;
constexpr uint8_t kV2UnixStream = 0x31;
constexpr uint8_t kV2UnixDgram = 0x32;

// Section 2.2, union proxy_addr: address block sizes.
constexpr size_t kV2AddrLenInet = 2 * 4 + 2 * 2;    // 12
constexpr size_t kV2AddrLenInet6 = 2 * 16 + 2 * 2;  // 36
constexpr size_t kV2AddrLenUnix = 2 * 108;          // 216

// Section 2.2, struct pp2_tlv: type(1) length_hi(1) length_lo(1).
constexpr size_t kTlvHeaderLength = 3;
// Section 2.2.3.
constexpr uint8_t kPp2TypeCrc32c = 0x03;

constexpr const char* kNotProxy = "not a PROXY header";

ProxyParseResult invalid(const char* why) {
    ProxyParseResult r;
    r.status = ProxyParseStatus::kInvalid;
    r.error = why;
    return r;
}

ProxyParseResult need_more(size_t total) {
    ProxyParseResult r;
    r.status = ProxyParseStatus::kNeedMore;
    r.need_at_least = total;
    return r;
}

ProxyParseResult complete(const ProxyHeader& header, size_t consumed) {
    ProxyParseResult r;
    r.status = ProxyParseStatus::kComplete;
    r.consumed = consumed;
    r.header = header;
    return r;
}

SocketAddress make_v4(const uint8_t addr[4], uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, addr, 4);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

SocketAddress make_v6(const uint8_t addr[16], uint16_t port) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, addr, 16);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

uint16_t read_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint32_t read_be32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
           static_cast<uint32_t>(p[3]);
}

void append_be16(std::string& out, uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}

// ---- CRC32c (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 appendix B, for 2.2.3 ----

constexpr std::array<uint32_t, 256> make_crc32c_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    return table;
}

constexpr auto kCrc32cTable = make_crc32c_table();

uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) crc = kCrc32cTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

// ---- v1 (section 2.1) ----

enum class V1Proto { kTcp4, kTcp6, kUnknown };

struct V1Keyword {
    std::string_view text;
    V1Proto proto;
    size_t min_line;  // shortest complete line with this keyword, CRLF included
};

// Section 2.1: "TCP4", "TCP6" or "UNKNOWN", nothing else.
constexpr V1Keyword kV1Keywords[] = {
    {"TCP4", V1Proto::kTcp4, 32},        // "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"
    {"TCP6", V1Proto::kTcp6, 22},        // "PROXY TCP6 :: :: 0 0\r\n"
    {"UNKNOWN", V1Proto::kUnknown, 15},  // "PROXY UNKNOWN\r\n"
};

constexpr size_t kV1MinAddrLen4 = 7;   // "0.0.0.0"
constexpr size_t kV1MinAddrLen6 = 2;   // "::"
constexpr size_t kV1MaxAddrLen4 = 15;  // "255.255.255.255" (INET_ADDRSTRLEN - 1)
constexpr size_t kV1MaxAddrLen6 = 45;  // INET6_ADDRSTRLEN - 1, the longest inet_pton accepts
constexpr size_t kV1MaxPortLen = 5;    // "65535"

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// One address field. `partial`: the field may still grow, so only its characters and length are
// checked; otherwise it must parse with inet_pton for the family the keyword announced
// (section 2.1: "The advertised protocol family dictates what format to use"). glibc's inet_pton
// also rejects heading zeroes in IPv4 ("Heading zeroes are not permitted").
const char* check_v1_address(std::string_view f, bool v6, bool partial, uint8_t out[16]) {
    if (f.size() > (v6 ? kV1MaxAddrLen6 : kV1MaxAddrLen4)) return "PROXY v1: address too long";
    for (char c : f) {
        bool ok = v6 ? (is_hex(c) || c == ':' || c == '.') : (is_digit(c) || c == '.');
        if (!ok) return v6 ? "PROXY v1: bad character in TCP6 address" : "PROXY v1: bad character in TCP4 address";
    }
    if (partial) return nullptr;
    char buf[kV1MaxAddrLen6 + 1];
    std::memcpy(buf, f.data(), f.size());
    buf[f.size()] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, out) != 1)
        return v6 ? "PROXY v1: invalid TCP6 address" : "PROXY v1: invalid TCP4 address";
    return nullptr;
}

// One port field, complete or partial: section 2.1, "a decimal integer in the range [0..65535]
// inclusive. Heading zeroes are not permitted".
const char* check_v1_port(std::string_view f, uint16_t* out) {
    if (f.size() > kV1MaxPortLen) return "PROXY v1: port too long";
    unsigned value = 0;
    for (char c : f) {
        if (!is_digit(c)) return "PROXY v1: port is not a decimal number";
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (f.size() > 1 && f[0] == '0') return "PROXY v1: port has a leading zero";
    if (value > 65535) return "PROXY v1: port out of range";
    *out = static_cast<uint16_t>(value);
    return nullptr;
}

// Checks a v1 line. `line` starts with "PROXY " and holds no CR or LF. `complete`: the line is
// everything before the CR; otherwise it is all that has arrived, and the last field may still
// grow. Fills `out` when complete, and `*min_total` with the shortest valid header (CRLF
// included) that can start with these bytes. Returns null or the error.
const char* check_v1_line(std::string_view line, bool complete, ProxyHeader* out, size_t* min_total) {
    std::string_view rest = line.substr(kV1Prefix.size());
    size_t sp = rest.find(' ');
    std::string_view keyword = rest.substr(0, sp);

    if (sp == std::string_view::npos && !complete) {
        // The keyword is still arriving: keep any that it can become.
        size_t best = 0;
        for (const V1Keyword& k : kV1Keywords) {
            if (k.text.starts_with(keyword)) best = best == 0 ? k.min_line : std::min(best, k.min_line);
        }
        if (best == 0) return "PROXY v1: unknown protocol (TCP4, TCP6 or UNKNOWN)";
        *min_total = std::max(best, line.size() + 2);
        return nullptr;
    }

    // Section 2.1: "exactly one space" after "PROXY".
    if (keyword.empty()) return "PROXY v1: empty field (exactly one space between fields)";
    const V1Keyword* kw = nullptr;
    for (const V1Keyword& k : kV1Keywords) {
        if (k.text == keyword) kw = &k;
    }
    if (kw == nullptr) return "PROXY v1: unknown protocol (TCP4, TCP6 or UNKNOWN)";

    if (kw->proto == V1Proto::kUnknown) {
        // Section 2.1: for "UNKNOWN" the rest of the line may be omitted, and the receiver must
        // ignore anything presented before the CRLF; the real endpoints are used.
        out->local = true;
        *min_total = std::max(kw->min_line, line.size() + 2);
        return nullptr;
    }
    if (sp == std::string_view::npos) return "PROXY v1: missing addresses";

    // Section 2.1: src addr, dst addr, src port, dst port, each after exactly one space.
    std::string_view fields_text = rest.substr(sp + 1);
    std::string_view fields[4];
    size_t count = 0;
    for (size_t pos = 0;;) {
        if (count == 4) return "PROXY v1: too many fields";
        size_t next = fields_text.find(' ', pos);
        fields[count++] = fields_text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
        if (next == std::string_view::npos) break;
        pos = next + 1;
    }
    if (complete && count < 4) return "PROXY v1: missing fields";

    bool v6 = kw->proto == V1Proto::kTcp6;
    uint8_t addrs[2][16]{};
    uint16_t ports[2]{};
    size_t min_line = kV1Prefix.size() + kw->text.size();
    for (size_t i = 0; i < 4; ++i) {
        bool is_addr = i < 2;
        size_t min_field = is_addr ? (v6 ? kV1MinAddrLen6 : kV1MinAddrLen4) : 1;
        if (i < count) {
            std::string_view f = fields[i];
            bool partial = !complete && i + 1 == count;
            // Section 2.1: "exactly one space" - an empty field means a doubled or trailing space.
            if (f.empty() && !partial) return "PROXY v1: empty field (exactly one space between fields)";
            const char* err = is_addr ? check_v1_address(f, v6, partial, addrs[i]) : check_v1_port(f, &ports[i - 2]);
            if (err != nullptr) return err;
            min_field = std::max(min_field, f.size());
        }
        min_line += 1 + min_field;
    }
    *min_total = std::max(min_line + 2, line.size() + 2);
    if (!complete) return nullptr;

    out->local = false;
    out->source = v6 ? make_v6(addrs[0], ports[0]) : make_v4(addrs[0], ports[0]);
    out->destination = v6 ? make_v6(addrs[1], ports[1]) : make_v4(addrs[1], ports[1]);
    return nullptr;
}

// `data` starts with "PROXY " (len >= 6).
ProxyParseResult parse_v1(const uint8_t* data, size_t len) {
    // Section 2.1: the line ends with CRLF within the first 107 bytes; a lone CR or LF must not
    // be tolerated. Only bytes up to the first CR or LF are looked at.
    size_t limit = std::min(len, kProxyV1MaxLength);
    size_t eol = std::string_view::npos;
    for (size_t i = 0; i < limit; ++i) {
        if (data[i] == '\n') return invalid("PROXY v1: LF without CR");
        if (data[i] == '\r') {
            eol = i;
            break;
        }
    }

    ProxyHeader header;
    header.version = 1;
    size_t min_total = 0;
    const char* err = nullptr;
    if (eol == std::string_view::npos) {
        // No CR yet: the earliest CRLF would end at len + 2 > 107 once len reaches 106.
        if (len + 2 > kProxyV1MaxLength) return invalid("PROXY v1: no CRLF within 107 bytes");
        std::string_view line(reinterpret_cast<const char*>(data), len);
        err = check_v1_line(line, false, &header, &min_total);
        if (err != nullptr) return invalid(err);
        return need_more(min_total);
    }

    size_t total = eol + 2;
    if (total > kProxyV1MaxLength) return invalid("PROXY v1: line longer than 107 bytes");
    if (eol + 1 < len && data[eol + 1] != '\n') return invalid("PROXY v1: CR without LF");
    // Section 2.1: "The receiver must wait for the CRLF sequence before starting to decode the
    // addresses" - the line is final here (its CR arrived), so decoding it is safe.
    std::string_view line(reinterpret_cast<const char*>(data), eol);
    err = check_v1_line(line, true, &header, &min_total);
    if (err != nullptr) return invalid(err);
    if (eol + 1 == len) return need_more(total);  // CR seen, LF not yet
    return complete(header, total);
}

// ---- v2 (section 2.2) ----

// Address block size a PROXY command must carry for a known family byte; 0 for UNSPEC.
size_t v2_address_block(uint8_t fam) {
    switch (fam) {
        case kV2Tcp4:
        case kV2Udp4:
            return kV2AddrLenInet;
        case kV2Tcp6:
        case kV2Udp6:
            return kV2AddrLenInet6;
        case kV2UnixStream:
        case kV2UnixDgram:
            return kV2AddrLenUnix;
        default:
            return 0;
    }
}

bool v2_family_known(uint8_t fam) { return fam == kV2Unspec || v2_address_block(fam) != 0; }

// Walks the TLVs in hdr[begin, end) (section 2.2, struct pp2_tlv) and checks a CRC32C TLV if
// present (section 2.2.3). Every TLV must fit inside the header; other types, PP2_TYPE_NOOP
// (2.2.4) included, are skipped.
const char* check_v2_tlvs(const uint8_t* hdr, size_t begin, size_t end) {
    size_t crc_at = 0;  // offset of the CRC32C value, 0 = none
    for (size_t pos = begin; pos < end;) {
        if (end - pos < kTlvHeaderLength) return "PROXY v2: truncated TLV header";
        uint8_t type = hdr[pos];
        size_t value_len = read_be16(hdr + pos + 1);
        if (value_len > end - pos - kTlvHeaderLength) return "PROXY v2: TLV overruns the header";
        if (type == kPp2TypeCrc32c) {
            if (value_len != 4) return "PROXY v2: CRC32C TLV length is not 4";
            if (crc_at != 0) return "PROXY v2: more than one CRC32C TLV";
            crc_at = pos + kTlvHeaderLength;
        }
        pos += kTlvHeaderLength + value_len;
    }
    if (crc_at != 0) {
        // Section 2.2.3: checksum of the whole header with the checksum field set to zeros.
        static constexpr uint8_t kZeros[4] = {};
        uint32_t crc = crc32c_update(0xffffffffu, hdr, crc_at);
        crc = crc32c_update(crc, kZeros, 4);
        crc = crc32c_update(crc, hdr + crc_at + 4, end - crc_at - 4);
        if (~crc != read_be32(hdr + crc_at)) return "PROXY v2: CRC32C mismatch";
    }
    return nullptr;
}

// `data` matches the signature for its first min(len, 12) bytes.
ProxyParseResult parse_v2(const uint8_t* data, size_t len) {
    if (len < sizeof kV2Signature) return need_more(kProxyV2FixedLength);

    uint8_t cmd = 0;
    if (len > 12) {
        // Section 2.2, 13th byte: version must be \x2 "and the receiver must only accept this value".
        if (data[12] >> 4 != kV2Version) return invalid("PROXY v2: unsupported version");
        // Section 2.2: commands other than LOCAL and PROXY: "Receivers must drop connections".
        cmd = data[12] & 0x0f;
        if (cmd != kV2CmdLocal && cmd != kV2CmdProxy) return invalid("PROXY v2: unknown command");
    }
    // Section 2.2, 14th byte: unlisted family or transport values "must be rejected as invalid".
    // With LOCAL "the family ... is ignored", so it is not checked there.
    if (len > 13 && cmd == kV2CmdProxy && !v2_family_known(data[13]))
        return invalid("PROXY v2: unknown address family or transport");
    if (len < kProxyV2FixedLength) return need_more(kProxyV2FixedLength);

    uint8_t fam = data[13];
    // Section 2.2, 15th-16th bytes: the header is "always exactly 16 + this value" bytes.
    size_t total = kProxyV2FixedLength + read_be16(data + 14);
    size_t block = cmd == kV2CmdProxy ? v2_address_block(fam) : 0;
    // Section 2.2: the length must cover the address block of the announced family (union
    // proxy_addr), or the addresses would be read from the client's data.
    if (total < kProxyV2FixedLength + block) return invalid("PROXY v2: length too short for the address family");
    if (len < total) return need_more(total);

    ProxyHeader header;
    header.version = 2;
    header.v2_family = fam;
    if (cmd == kV2CmdLocal) {
        // Section 2.2, LOCAL: use the real endpoints, "discard the protocol block including the
        // family" - TLVs included, since without a family their offset is unknown.
        header.local = true;
        return complete(header, total);
    }
    if (fam == kV2Unspec) {
        // Section 2.2, \x00: "The receiver should ignore address information" (and anything after).
        header.local = true;
        return complete(header, total);
    }

    const uint8_t* addr = data + kProxyV2FixedLength;
    if (fam == kV2Tcp4) {
        header.source = make_v4(addr, read_be16(addr + 8));
        header.destination = make_v4(addr + 4, read_be16(addr + 10));
    } else if (fam == kV2Tcp6) {
        header.source = make_v6(addr, read_be16(addr + 32));
        header.destination = make_v6(addr + 16, read_be16(addr + 34));
    } else {
        // UDP or UNIX: section 2.2 lets a receiver that does not implement a protocol byte fall
        // back to UNSPEC mode, i.e. use the real endpoints. The raw byte is in v2_family.
        header.local = true;
    }
    if (const char* err = check_v2_tlvs(data, kProxyV2FixedLength + block, total)) return invalid(err);
    return complete(header, total);
}

bool is_ip(const SocketAddress& a) { return a.is_v4() || a.is_v6(); }

// ::ffff:a.b.c.d for an IPv4 address; v6 addresses unchanged.
SocketAddress to_v6(const SocketAddress& a) {
    if (!a.is_v4()) return a;
    uint8_t bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(bytes + 12, a.ip_bytes().data(), 4);
    return make_v6(bytes, a.port());
}

// Applies the mixed-family rule from the header: both v6 (v4 ones mapped) unless both are v4.
void unify_families(SocketAddress& src, SocketAddress& dst) {
    if (src.family() == dst.family()) return;
    src = to_v6(src);
    dst = to_v6(dst);
}

}  // namespace

ProxyParseResult parse_proxy_header(const uint8_t* data, size_t len) {
    if (len == 0) return need_more(kProxyMinLength);
    // Section 2.2 ("Identifying the protocol version is easy"): the v2 signature or "PROXY".
    // The first byte tells them apart ('P' vs '\r'), so a prefix matches at most one.
    if (data[0] == static_cast<uint8_t>(kV1Prefix[0])) {
        size_t n = std::min(len, kV1Prefix.size());
        if (std::memcmp(data, kV1Prefix.data(), n) != 0) return invalid(kNotProxy);
        if (len < kV1Prefix.size()) return need_more(kProxyMinLength);
        return parse_v1(data, len);
    }
    if (data[0] == kV2Signature[0]) {
        size_t n = std::min(len, sizeof kV2Signature);
        if (std::memcmp(data, kV2Signature, n) != 0) return invalid(kNotProxy);
        return parse_v2(data, len);
    }
    return invalid(kNotProxy);
}

std::string encode_proxy_v1(const SocketAddress& source, const SocketAddress& destination) {
    // Section 2.1: "UNKNOWN" when "it is not possible to correctly fill the PROXY line".
    if (!is_ip(source) || !is_ip(destination)) return "PROXY UNKNOWN\r\n";
    SocketAddress src = source;
    SocketAddress dst = destination;
    unify_families(src, dst);
    std::string out(kV1Prefix);
    out += src.is_v4() ? "TCP4 " : "TCP6 ";
    // inet_ntop output: IPv4 without heading zeroes, IPv6 in compressed form (section 2.1).
    out += src.ip_string();
    out += ' ';
    out += dst.ip_string();
    out += ' ';
    out += std::to_string(src.port());
    out += ' ';
    out += std::to_string(dst.port());
    out += "\r\n";
    return out;
}

std::string encode_proxy_v2(const SocketAddress& source, const SocketAddress& destination) {
    std::string out(reinterpret_cast<const char*>(kV2Signature), sizeof kV2Signature);
    out.push_back(static_cast<char>(kV2Version << 4 | kV2CmdProxy));
    if (!is_ip(source) || !is_ip(destination)) {
        // Section 2.2: senders use UNSPEC "when dealing with unsupported protocol families".
        out.push_back(static_cast<char>(kV2Unspec));
        append_be16(out, 0);
        return out;
    }
    SocketAddress src = source;
    SocketAddress dst = destination;
    unify_families(src, dst);
    bool v4 = src.is_v4();
    out.push_back(static_cast<char>(v4 ? kV2Tcp4 : kV2Tcp6));
    append_be16(out, static_cast<uint16_t>(v4 ? kV2AddrLenInet : kV2AddrLenInet6));
    // Section 2.2: src addr, dst addr, src port, dst port, all in network byte order.
    out.append(src.ip_bytes());
    out.append(dst.ip_bytes());
    append_be16(out, src.port());
    append_be16(out, dst.port());
    return out;
}

std::string encode_proxy_v2_local() {
    // Section 2.2: LOCAL "should not present any address so it sets this field to zero", with
    // the UNSPEC family the sender "should use ... when sending LOCAL commands".
    std::string out(reinterpret_cast<const char*>(kV2Signature), sizeof kV2Signature);
    out.push_back(static_cast<char>(kV2Version << 4 | kV2CmdLocal));
    out.push_back(static_cast<char>(kV2Unspec));
    append_be16(out, 0);
    return out;
}

}  // namespace lbd
