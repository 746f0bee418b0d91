// The request head of one HTTP/2 stream, field by field as nghttp2 hands it
// over, and its translation to the HTTP/1.1 request the exchange driver
// takes (RFC 9113 §8.3): :method and :path to the request line,
// :authority (else Host) to Host, cookie fields joined with "; " (§8.2.3),
// `te` dropped (nghttp2 lets only "trailers" through; hop-by-hop for
// HTTP/1.1), content-length checked, a body of unknown length chunked.
//
// nghttp2 has already refused what RFC 9113 §8.2 forbids (connection-
// specific fields, upper case names, a bad content-length, pseudo-headers
// out of place); translate() still refuses what it could not give an
// HTTP/1.1 server, whatever came through. A pure function of the fields:
// unit-tested (tests/unit/h2_request_head_test.cc) and fuzzed behind
// nghttp2 (tests/fuzz/h2_request_head.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "l7/http_message.h"

namespace lbd::l7 {

class H2RequestHead {
public:
    // Over `max_list_bytes` (SETTINGS_MAX_HEADER_LIST_SIZE: each field's
    // name and value plus 32, RFC 9113 §6.5.2) the rest is dropped and the
    // head is too_large() (answered 431).
    explicit H2RequestHead(size_t max_list_bytes) : max_list_bytes_(max_list_bytes) {}

    void add(std::string_view name, std::string_view value);
    size_t bytes() const { return bytes_; }
    bool too_large() const { return too_large_; }
    const std::string& method() const { return method_; }
    const std::string& path() const { return path_; }
    // RFC 8441's :protocol (nghttp2 lets it through only on a CONNECT, and
    // only when lbd enabled the extended CONNECT); empty if none.
    const std::string& protocol() const { return protocol_; }

    // Fills `r` (its fields moved out of here); `ended`: END_STREAM came
    // with the head. False: a request HTTP/1.1 cannot carry (answered 400).
    // A body of unknown length comes out as r.framing == kChunked. An
    // extended CONNECT (a :protocol) comes out as the HTTP/1.1 upgrade it
    // stands for (RFC 8441 §5): GET, r.upgrade with the protocol, no body
    // framing (the stream's DATA are the tunnel's bytes), the client's own
    // sec-websocket-key dropped (the caller adds lbd's).
    bool translate(RequestInfo& r, bool ended);

private:
    size_t max_list_bytes_;
    std::string method_, scheme_, authority_, path_, protocol_, cookie_;
    HeaderList fields_;
    size_t bytes_ = 0;
    bool too_large_ = false;
};

}  // namespace lbd::l7
