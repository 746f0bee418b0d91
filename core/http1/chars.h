// Character classes of HTTP/1.1 and an ASCII case-insensitive compare, shared by the head parser,
// the body decoder and the config checks. One 256-entry table, so every class test is one load and one AND.
//
// Grammar references: RFC 9110 §5.6.2 (tchar), §5.5 (field-vchar, obs-text), §5.6.4 (qdtext),
// RFC 3986 §2.2-2.3 (unreserved, sub-delims), RFC 5234 appendix B.1 (ALPHA, DIGIT, HEXDIG, VCHAR).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lbd::http1 {

namespace char_class {

enum : uint8_t {
    kTchar = 1 << 0,       // token character
    kFieldVchar = 1 << 1,  // VCHAR / obs-text: what a field value holds besides SP and HTAB
    kTarget = 1 << 2,      // may appear in a request-target (see is_target_char)
    kHexDigit = 1 << 3,    // HEXDIG (either case)
    kRegName = 1 << 4,     // unreserved / sub-delims: a reg-name character other than '%'
    kQdtext = 1 << 5,      // inside a quoted-string without a backslash
    kUnreserved = 1 << 6,  // RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~"
};

constexpr std::array<uint8_t, 256> make_table() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool digit = c >= '0' && c <= '9';
        bool vchar = c >= 0x21 && c <= 0x7e;
        bool obs_text = c >= 0x80;
        uint8_t f = 0;
        if (alpha || digit || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos)
            f |= kTchar;
        if (vchar || obs_text) f |= kFieldVchar;
        // Every VCHAR but '#': a fragment is never part of a request-target (RFC 9112 §3.2).
        if (vchar && c != '#') f |= kTarget;
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHexDigit;
        if (alpha || digit || std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos)
            f |= kRegName;
        if (alpha || digit || c == '-' || c == '.' || c == '_' || c == '~') f |= kUnreserved;
        if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || obs_text)
            f |= kQdtext;
        t[static_cast<size_t>(c)] = f;
    }
    return t;
}

inline constexpr std::array<uint8_t, 256> kTable = make_table();

inline bool has(char c, uint8_t cls) { return (kTable[static_cast<unsigned char>(c)] & cls) != 0; }

}  // namespace char_class

inline bool is_tchar(char c) { return char_class::has(c, char_class::kTchar); }
inline bool is_field_vchar(char c) { return char_class::has(c, char_class::kFieldVchar); }
// The request-target check is deliberately wider than RFC 3986: browsers send '|', '^', '[', ']',
// '{', '}' and a lone '%' unescaped in paths and queries (WHATWG URL), and none of them can change
// how the message is framed. Controls, SP, '#' and bytes >= 0x80 are refused.
inline bool is_target_char(char c) { return char_class::has(c, char_class::kTarget); }
inline bool is_hex_digit(char c) { return char_class::has(c, char_class::kHexDigit); }
inline bool is_reg_name_char(char c) { return char_class::has(c, char_class::kRegName); }
inline bool is_unreserved(char c) { return char_class::has(c, char_class::kUnreserved); }
inline bool is_qdtext(char c) { return char_class::has(c, char_class::kQdtext); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// OWS / BWS / RWS are made of these (RFC 9110 §5.6.3).
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;  // caller checked is_hex_digit
}

inline char to_lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A lower-case copy, ASCII only: names, hosts and codings are compared
// with it, and no locale may change what they match.
inline std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = to_lower_ascii(c);
    return out;
}

// Field names, tokens and codings compare case-insensitively (RFC 9110 §5.1, §7.6.1, §8.4.1);
// ASCII only, on purpose: no locale may change what "Transfer-Encoding" matches.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (to_lower_ascii(a[i]) != to_lower_ascii(b[i])) return false;
    }
    return true;
}

// `prefix` at the start of `s`, compared as iequals does.
inline bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// RFC 9110 §5.6.2: token = 1*tchar (method names, field names, codings, connection options).
inline bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

// How many bytes at the start of `s` are field-content (RFC 9110 §5.5: field-vchar, SP, HTAB):
// s.size() when all are. Field values are most of a head's bytes, so they are checked eight at a
// time: a word with no byte below 0x20 and none 0x7F holds only VCHAR, SP and obs-text (Bit
// Twiddling Hacks' has-less and has-zero tests, exact for "any byte"). From the first word with a
// control or an HTAB on, and in the tail, the bytes are checked one by one.
inline size_t field_content_prefix(std::string_view s) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t word;
        std::memcpy(&word, s.data() + i, sizeof word);
        const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
        const uint64_t del = word ^ (kOnes * 0x7f);
        if ((below_space | ((del - kOnes) & ~del & kHigh)) != 0) break;
    }
    for (; i < s.size(); ++i) {
        if (!is_field_vchar(s[i]) && !is_ows(s[i])) return i;
    }
    return s.size();
}

// RFC 9110 §5.5: field-value = *field-content, field-content = field-vchar [ 1*( SP / HTAB /
// field-vchar ) field-vchar ]: no controls (CR, LF, NUL, DEL...) and no whitespace at either end.
// The parser is laxer only at the ends, which it trims as OWS.
inline bool is_field_value(std::string_view s) {
    if (!s.empty() && (is_ows(s.front()) || is_ows(s.back()))) return false;
    return field_content_prefix(s) == s.size();
}

inline std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace lbd::http1
