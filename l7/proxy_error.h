// Why an exchange failed, as a value (STYLE.md #5, Pingora's Error): where
// the fault lies (client, server, lbd itself), what happened, and whether
// sending the request again is safe. The access log's termination (term=)
// and the status lbd answers with are derived from it, so the retry
// decision and the log line cannot disagree.
//
// Today the server side goes through it (connect failures, a server that
// closes or breaks before answering, bad or late responses); the retry
// rules are in connect_failed() and server_closed() (http_session.cc,
// http_exchange.cc), the README's "Retries".
#pragma once

#include <cstdint>

#include "l7/proxy_types.h"

namespace lbd::l7 {

enum class ErrorSource : uint8_t { kClient, kServer, kInternal };

enum class ErrorCause : uint8_t {
    // The client's fault.
    kBadRequest,     // refused by the parser, or a malformed body
    kHeaderTimeout,  // the head did not come within client_header_ms
    kClientClosed,   // closed or broke the connection mid-request
    kBodyTimeout,    // the body stopped coming for body_idle_ms
    // The server's.
    kNoServer,         // no server of the pool usable
    kConnectFailed,    // refused, unreachable, timed out, TLS failed
    kResponseTimeout,  // no response head within server_response_ms
    kBadResponse,      // malformed head, or a 101 nobody asked for
    kServerClosed,     // closed or broke the connection before or while answering
    // lbd's.
    kShutdown,        // still open at the shutdown deadline
    kLocalShortage,   // lbd out of descriptors, memory or local ports (core/net/local_errors.h)
};

struct ProxyError {
    ErrorSource source = ErrorSource::kInternal;
    ErrorCause cause = ErrorCause::kShutdown;
    // Another attempt (another server, or a fresh connection) may be made:
    // nothing of the request can have been acted on twice.
    bool retryable = false;

    static ProxyError server(ErrorCause cause, bool retryable = false) {
        return {ErrorSource::kServer, cause, retryable};
    }
    static ProxyError client(ErrorCause cause) { return {ErrorSource::kClient, cause, false}; }
    // lbd's own shortage: never the server's fault, never retried on another server.
    static ProxyError local(ErrorCause cause) { return {ErrorSource::kInternal, cause, false}; }

    // The access log's term= for a request that ended on this error.
    Termination termination() const;
    // What lbd answers when no response has started: 4xx for the client's
    // faults (408 for timeouts, 400 else), 502/503/504 for the server's.
    int status() const;
};

const char* to_string(ErrorSource source);

}  // namespace lbd::l7
