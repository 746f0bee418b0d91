// Internal to lbd_http1: the field section of a head (RFC 9112 §5, RFC 9110 §5): the syntax of each
// field line, and the facts derived from the fields the parser knows (framing, Host, Connection).
// Used by parser.cc.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/http1/parser.h"

namespace lbd::http1 {

enum class MessageKind : uint8_t { kRequest, kResponse };

// What the field lines said, gathered while they are read and settled after the last one.
struct FieldFacts {
    size_t content_length_lines = 0;
    size_t transfer_encoding_lines = 0;
    bool chunked_seen = false;   // chunked appeared in some Transfer-Encoding element
    bool chunked_final = false;  // ... and is the last coding so far
    bool unknown_coding = false;
    bool has_connection = false;
    bool upgrade_seen = false;
    // Requests only.
    size_t host_lines = 0;
    std::string_view host;
    bool expect_continue = false;
};

// Reads the field lines in input[begin, end), `end` being where the final empty line starts, into
// head.headers (marking the fields hop-by-hop by name) and `facts`, and records what Content-Length
// and Connection say in `head`. Returns the first error.
HttpError parse_fields(std::string_view input, size_t begin, size_t end, const HttpLimits& limits,
                       MessageKind kind, HttpHead& head, FieldFacts& facts);

// The Transfer-Encoding checks that need every field line (RFC 9112 §6.1, §6.3), in a fixed order:
// HTTP/1.0, then Content-Length beside it, then unknown codings.
HttpError check_transfer_encoding(const HttpHead& head, const FieldFacts& facts);

// Sets head.keep_alive (§9.3) and marks the fields Connection names as hop-by-hop. The version and
// the Connection flags must be known.
void settle_connection(HttpHead& head, const FieldFacts& facts);

}  // namespace lbd::http1
