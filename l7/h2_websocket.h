// WebSocket over HTTP/2 (RFC 8441) towards HTTP/1.1 servers: the handshake
// fields of RFC 6455 that an extended CONNECT does not carry and lbd adds
// (a Sec-WebSocket-Key of its own, Sec-WebSocket-Version), and the check of
// the server's 101 against that key, which the HTTP/2 client cannot make
// (it never saw the key). The request line and Upgrade come from
// H2RequestHead::translate (h2_request_head.h); the stream's tunnel is
// H2Stream's (h2_stream.h).
//
// Pure functions (but for the random key): unit-tested
// (tests/unit/h2_websocket_test.cc).
#pragma once

#include <string>
#include <string_view>

#include "l7/http_message.h"

namespace lbd::l7::websocket {

// RFC 6455 §4.1: 16 random bytes, base64.
std::string new_key();
// RFC 6455 §4.2.2: base64(SHA-1(key + the protocol's GUID)).
std::string accept_for(std::string_view key);
// Adds `key` as Sec-WebSocket-Key and, when the client sent none,
// Sec-WebSocket-Version: 13 (RFC 8441 §5 asks the client for it; lbd does
// not refuse its absence).
void add_handshake(RequestInfo& request, const std::string& key);
// The server's 101 answers `key` (RFC 6455 §4.1, the client's checks):
// Upgrade names websocket and Sec-WebSocket-Accept matches.
bool accepted(const ResponseInfo& response, std::string_view key);

}  // namespace lbd::l7::websocket
