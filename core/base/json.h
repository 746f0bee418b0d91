// A JSON string literal, for the few documents lbd and lbctl write by hand
// (lbctl's error and config-check documents, the JSON access log); messages
// of the schema go through protobuf's own JSON printer instead.
#pragma once

#include <string>
#include <string_view>

namespace lbd {

enum class JsonBytes : bool {
    kUtf8,   // bytes >= 0x80 pass through: the text is UTF-8 (lbd's own messages, file names)
    kAscii,  // bytes >= 0x80 are written \u00XX: the text is whatever a client sent, maybe not
             // UTF-8, and the document must stay valid JSON
};

// `text` quoted, with '"', '\\' and control characters escaped (RFC 8259 §7).
std::string json_quote(std::string_view text, JsonBytes bytes = JsonBytes::kUtf8);

}  // namespace lbd
