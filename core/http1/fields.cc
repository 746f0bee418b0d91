// Field lines and what the parser reads from them. Section numbers are RFC 9112's unless another
// RFC is named.
#include "core/http1/fields.h"

#include <algorithm>

#include "core/http1/chars.h"
#include "core/http1/start_line.h"

namespace lbd::http1 {
namespace {

// The header vector is reserved once with this many slots; a head with more grows it (and keeps
// it: clear() does not shrink).
constexpr size_t kInitialHeaderCapacity = 32;

// Fields the parser reads or that are hop-by-hop by name (RFC 9110 §7.6.1).
enum class KnownField : uint8_t {
    kOther,
    kHost,
    kContentLength,
    kTransferEncoding,
    kConnection,
    kUpgrade,
    kExpect,
    kKeepAlive,
    kProxyConnection,
    kTe,
    kTrailer,
};

KnownField classify(std::string_view name) {
    switch (name.size()) {
        case 2:
            if (iequals(name, "te")) return KnownField::kTe;
            break;
        case 4:
            if (iequals(name, "host")) return KnownField::kHost;
            break;
        case 6:
            if (iequals(name, "expect")) return KnownField::kExpect;
            break;
        case 7:
            if (iequals(name, "upgrade")) return KnownField::kUpgrade;
            if (iequals(name, "trailer")) return KnownField::kTrailer;
            break;
        case 10:
            if (iequals(name, "connection")) return KnownField::kConnection;
            if (iequals(name, "keep-alive")) return KnownField::kKeepAlive;
            break;
        case 14:
            if (iequals(name, "content-length")) return KnownField::kContentLength;
            break;
        case 16:
            // Never standard, still sent by old clients; a server must not see it (RFC 9112 §9.6).
            if (iequals(name, "proxy-connection")) return KnownField::kProxyConnection;
            break;
        case 17:
            if (iequals(name, "transfer-encoding")) return KnownField::kTransferEncoding;
            break;
        default:
            break;
    }
    return KnownField::kOther;
}

bool is_hop_by_hop_by_name(KnownField field) {
    switch (field) {
        case KnownField::kConnection:
        case KnownField::kKeepAlive:
        case KnownField::kProxyConnection:
        case KnownField::kTe:
        case KnownField::kTrailer:
        case KnownField::kTransferEncoding:
        case KnownField::kUpgrade:
            return true;
        default:
            return false;
    }
}

// The transfer codings of §7 besides chunked; RFC 9112 dropped "identity".
bool is_known_coding(std::string_view coding) {
    return iequals(coding, "gzip") || iequals(coding, "x-gzip") || iequals(coding, "deflate") ||
           iequals(coding, "compress") || iequals(coding, "x-compress");
}

// One field line without its CRLF; `line` is not empty.
HttpError parse_field_line(std::string_view line, HttpHeader* out) {
    // §5.2: obs-fold is rejected; §2.2: so is whitespace between the start line and the first
    // field (both start a line with SP or HTAB).
    if (is_ows(line[0])) return HttpError::kObsFold;
    size_t i = 0;
    while (i < line.size() && is_tchar(line[i])) ++i;
    if (i == line.size()) return HttpError::kMissingColon;
    if (line[i] != ':') {
        if (line[i] == '\r') return HttpError::kBareCr;
        if (is_ows(line[i])) {
            // §5.1: "No whitespace is allowed between the field name and colon ... MUST reject".
            size_t k = i;
            while (k < line.size() && is_ows(line[k])) ++k;
            if (k < line.size() && line[k] == ':') return HttpError::kSpaceBeforeColon;
        }
        return HttpError::kBadHeaderName;
    }
    if (i == 0) return HttpError::kEmptyHeaderName;

    // RFC 9110 §5.5: field-value = *field-content, i.e. VCHAR, obs-text, SP, HTAB. CR, LF and NUL
    // "MUST either reject ... or replace": we reject, and every other control with them.
    std::string_view value = line.substr(i + 1);
    if (const size_t good = field_content_prefix(value); good != value.size())
        return value[good] == '\r' ? HttpError::kBareCr : HttpError::kBadHeaderValue;
    out->name = line.substr(0, i);
    out->value = trim_ows(value);
    out->hop_by_hop = false;
    return HttpError::kNone;
}

// RFC 9110 §8.6: Content-Length = 1*DIGIT, one value.
HttpError parse_content_length(std::string_view value, uint64_t* out) {
    if (value.empty()) return HttpError::kBadContentLength;
    for (char c : value) {
        if (!is_digit(c)) return HttpError::kBadContentLength;  // also "+5", "-1", "5, 5", "0x5"
    }
    // Leading zeros: see the header comment.
    if (value.size() > 1 && value[0] == '0') return HttpError::kBadContentLength;
    uint64_t n = 0;
    for (char c : value) {
        uint64_t digit = static_cast<uint64_t>(c - '0');
        // RFC 9110 §8.6: "prevent parsing errors due to integer conversion overflows".
        if (n > (kMaxBodyLength - digit) / 10) return HttpError::kContentLengthOverflow;
        n = n * 10 + digit;
    }
    *out = n;
    return HttpError::kNone;
}

// One Transfer-Encoding line; several lines form one list (RFC 9110 §5.3), so the facts carry
// over from line to line.
HttpError note_transfer_encoding(std::string_view value, FieldFacts& facts) {
    size_t pos = 0;
    for (;;) {
        size_t comma = value.find(',', pos);
        std::string_view coding =
            trim_ows(value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        // Empty elements are legal list syntax (RFC 9110 §5.6.1) but make framing depend on how
        // each hop splits the list; parameters are defined for no coding. Both are refused.
        if (coding.empty()) return HttpError::kBadTransferEncoding;
        for (char c : coding) {
            if (!is_tchar(c)) return HttpError::kBadTransferEncoding;
        }
        if (iequals(coding, "chunked")) {
            // §6.1: "A sender MUST NOT apply the chunked transfer coding more than once".
            if (facts.chunked_seen) return HttpError::kBadTransferEncoding;
            facts.chunked_seen = true;
            facts.chunked_final = true;
        } else {
            facts.chunked_final = false;
            if (!is_known_coding(coding)) facts.unknown_coding = true;
        }
        if (comma == std::string_view::npos) return HttpError::kNone;
        pos = comma + 1;
    }
}

// RFC 9110 §7.6.1: Connection = #connection-option, connection-option = token.
HttpError note_connection(std::string_view value, HttpHead& head) {
    std::string_view rest = value;
    while (auto option = next_list_element(rest)) {
        for (char c : *option) {
            if (!is_tchar(c)) return HttpError::kBadConnection;
        }
        if (iequals(*option, "close")) head.connection_close = true;
        if (iequals(*option, "keep-alive")) head.connection_keep_alive = true;
        if (iequals(*option, "upgrade")) head.connection_upgrade = true;
    }
    return HttpError::kNone;
}

HttpError note_field(KnownField field, const HttpHeader& header, MessageKind kind, HttpHead& head,
                     FieldFacts& facts) {
    switch (field) {
        case KnownField::kContentLength:
            // RFC 9110 §8.6 lets a recipient accept repeated identical values; a proxy that does
            // hands the next hop a message it may frame differently, so any repeat is refused.
            if (++facts.content_length_lines > 1) return HttpError::kDuplicateContentLength;
            head.has_content_length = true;
            return parse_content_length(header.value, &head.content_length);
        case KnownField::kTransferEncoding:
            ++facts.transfer_encoding_lines;
            return note_transfer_encoding(header.value, facts);
        case KnownField::kConnection:
            facts.has_connection = true;
            return note_connection(header.value, head);
        case KnownField::kUpgrade:
            if (!facts.upgrade_seen) head.upgrade = header.value;
            facts.upgrade_seen = true;
            return HttpError::kNone;
        case KnownField::kHost:
            if (kind != MessageKind::kRequest) return HttpError::kNone;
            // §3.2: 400 to "more than one Host header field line or a Host header field with an
            // invalid field value".
            if (++facts.host_lines > 1) return HttpError::kDuplicateHost;
            if (!is_valid_host_port(header.value, /*host_required=*/false, /*port_required=*/false))
                return HttpError::kBadHost;
            facts.host = header.value;
            return HttpError::kNone;
        case KnownField::kExpect:
            if (kind == MessageKind::kRequest) {
                std::string_view rest = header.value;
                while (auto expectation = next_list_element(rest)) {
                    if (iequals(*expectation, "100-continue")) facts.expect_continue = true;
                }
            }
            return HttpError::kNone;
        default:
            return HttpError::kNone;
    }
}

// Marks the fields that Connection names (RFC 9110 §7.6.1: "the intermediary MUST ... remove any
// header or trailer field(s) from the message with the same name as a connection option").
void mark_connection_options(HttpHead& head) {
    for (const HttpHeader& connection : head.headers) {
        if (!iequals(connection.name, "connection")) continue;
        std::string_view rest = connection.value;
        while (auto option = next_list_element(rest)) {
            for (HttpHeader& h : head.headers) {
                if (iequals(h.name, *option)) h.hop_by_hop = true;
            }
        }
    }
}

}  // namespace

// Two passes: the syntax of every line first, then what the known fields mean, so that a message
// broken at line level is reported as such (a folded Transfer-Encoding is kObsFold, not an empty
// coding).
HttpError parse_fields(std::string_view input, size_t begin, size_t end, const HttpLimits& limits,
                       MessageKind kind, HttpHead& head, FieldFacts& facts) {
    if (head.headers.capacity() == 0) head.headers.reserve(std::min(kInitialHeaderCapacity, limits.max_header_count));
    size_t pos = begin;
    while (pos < end) {
        // locate_head saw every LF here follow a CR.
        size_t lf = input.find('\n', pos);
        std::string_view line = input.substr(pos, lf - 1 - pos);
        pos = lf + 1;
        if (head.headers.size() >= limits.max_header_count) return HttpError::kTooManyHeaders;
        HttpHeader header;
        if (HttpError e = parse_field_line(line, &header); e != HttpError::kNone) return e;
        head.headers.push_back(header);
    }
    for (HttpHeader& header : head.headers) {
        KnownField field = classify(header.name);
        header.hop_by_hop = is_hop_by_hop_by_name(field);
        if (HttpError e = note_field(field, header, kind, head, facts); e != HttpError::kNone) return e;
    }
    return HttpError::kNone;
}

HttpError check_transfer_encoding(const HttpHead& head, const FieldFacts& facts) {
    if (facts.transfer_encoding_lines == 0) return HttpError::kNone;
    // §6.1: an HTTP/1.0 recipient cannot know the coding; "MUST treat the message as if the
    // framing is faulty, even if a Content-Length is present".
    if (head.version == HttpVersion::k10) return HttpError::kTransferEncodingInHttp10;
    // §6.3 item 3: "MAY reject"; we must, or a hop that prefers Content-Length desyncs.
    if (facts.content_length_lines > 0) return HttpError::kContentLengthAndTransferEncoding;
    // §6.1: "SHOULD respond with 501 (Not Implemented)".
    if (facts.unknown_coding) return HttpError::kUnknownTransferCoding;
    return HttpError::kNone;
}

void settle_connection(HttpHead& head, const FieldFacts& facts) {
    // §9.3: persistence.
    head.keep_alive = head.version == HttpVersion::k11 ? !head.connection_close
                                                       : head.connection_keep_alive && !head.connection_close;
    if (facts.has_connection) mark_connection_options(head);
}
std::optional<std::string_view> next_list_element(std::string_view& rest) {
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view element = trim_ows(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (!element.empty()) return element;
    }
    return std::nullopt;
}

bool connection_lists(const HttpHead& head, std::string_view option) {
    for (const HttpHeader& h : head.headers) {
        if (!iequals(h.name, "connection")) continue;
        std::string_view rest = h.value;
        while (auto element = next_list_element(rest)) {
            if (iequals(*element, option)) return true;
        }
    }
    return false;
}

}  // namespace lbd::http1
