// What a response may be compressed with, from the request's
// Accept-Encoding (RFC 9110 12.5.3) and the response's fields: pure string
// work, no allocation, unit-tested (tests/unit/compression_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config_http.h"

namespace lbd::compression {

using Algorithm = HttpCompressionAlgorithm;

// "br", "gzip", "zstd": the Content-Encoding token.
const char* to_token(Algorithm algorithm);

// An Accept-Encoding field, possibly over several lines (add() each). The
// q-values are kept in thousandths; -1 = the coding is not listed.
class AcceptEncoding {
public:
    void add(std::string_view value);
    // The coding to send: the offered algorithm with the highest q (> 0),
    // ties going to the one first in `offered` (the server's preference);
    // nullopt (identity) when none is acceptable, or when the client gives
    // identity (itself, or through "*") a higher q than every acceptable
    // one (`gzip;q=0.5, identity`). When nothing is acceptable, not even
    // identity (`identity;q=0`, or `*;q=0` without identity listed), lbd
    // still sends identity (the representation it has) rather than a 406.
    std::optional<Algorithm> choose(std::span<const Algorithm> offered) const;
    // What the field means for a response varying on it (the cache's
    // variant key): the codings br, deflate, gzip, zstd the client accepts
    // ("*" expanded, x-gzip folded into gzip), in the order of its
    // preference, "," between equals and ">" before a lower q; identity
    // among them when it outweighs one (it may then be chosen instead).
    // "gzip, br" is "br,gzip", "br, gzip;q=0.5" is "br>gzip". Fields with
    // one normal form get the same choose() whatever the server's order,
    // and only q's absolute values are lost.
    std::string normalized() const;

private:
    enum Coding : uint8_t { kBr, kDeflate, kGzip, kZstd, kCodings };  // sorted by token
    static constexpr const char* kTokens[kCodings] = {"br", "deflate", "gzip", "zstd"};
    int q_of(Coding coding) const;  // listed, else through "*", else 0
    int identity_q() const;
    int q_[kCodings] = {-1, -1, -1, -1};  // -1: not listed
    int identity_ = -1;
    int star_ = -1;
};

// Whether `content_type` (a Content-Type value, parameters allowed) is one
// of `types` ("text/html", or "text/*"; lower case). Case-insensitive.
bool type_listed(std::string_view content_type, const std::vector<std::string>& types);

// Whether the comma-separated `list` (Vary, Cache-Control, ...) holds
// `token` as an element of its own (before any `=`), case-insensitive.
bool list_has(std::string_view list, std::string_view token);

// `W/"x"` for a strong `"x"`; a weak one unchanged. RFC 9110 8.8.3: a
// strong validator promises the same bytes, which a compressed body is not.
std::string weak_etag(std::string_view etag);

}  // namespace lbd::compression
