// Reading a PROXY protocol header (proxy_protocol.h) from an accepted socket, shared by the L4
// splice sessions and the HTTP listeners.
//
// The header is peeked (MSG_PEEK) until it is whole, then exactly its bytes are consumed: what
// follows it (the client's own bytes, a TLS ClientHello) stays in the socket for whoever reads
// next, splice(2) or a bufferevent. Non-blocking sockets only; no state between calls (call again
// when the socket is readable). Thread-safe.
#pragma once

#include "core/net/proxy_protocol.h"

namespace lbd {

enum class ProxyReadStatus {
    kComplete,  // header consumed; `header` is valid
    kWait,      // not all there yet: call again when readable
    kInvalid,   // malformed, or the peer closed or reset before a whole header
};

struct ProxyReadResult {
    ProxyReadStatus status = ProxyReadStatus::kInvalid;
    ProxyHeader header;
    const char* error = nullptr;  // static string, when kInvalid
};

// `peer_closed`: the caller already saw the peer's FIN (then a partial header is invalid at once,
// instead of holding the connection until its header timeout).
ProxyReadResult read_proxy_header(int fd, bool peer_closed);

}  // namespace lbd
