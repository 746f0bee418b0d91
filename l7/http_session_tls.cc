// HttpSession on a TLS listener: the handshake that comes before phase 1.
// TlsStream (tls_stream.h) drives it; the session only learns its end (see
// transport.h) and times it.
#include "core/base/log.h"
#include "l7/http_listener.h"
#include "l7/http_session.h"
#include "l7/tls/tls_context.h"

namespace lbd::l7 {

void HttpSession::client_handshake_event(short what) {
    HttpListenerStats& stats = listener_->stats();
    if (what & BEV_EVENT_CONNECTED) {
        handshake_done_ = true;
        stats.tls_handshakes.fetch_add(1, std::memory_order_relaxed);
        // The client chose HTTP/2 (the listener's alpn lists "h2").
        if (negotiated_alpn(client_.ssl) == "h2") return start_h2();
        // The request head is timed from here, as from a plain accept.
        arm(Timer::kHeader, http_.timeouts.client_header_ms);
        return;
    }
    // An error (a refused or malformed ClientHello, no shared version,
    // cipher or ALPN protocol, a client certificate that does not verify) or
    // a close before the handshake finished: nothing was requested, so no
    // access-log line, only the counter and a debug line.
    stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    LOG_DEBUG("http listener=%s client=%s: tls handshake failed: %s", listener_->config().name.c_str(),
              endpoint_.peer.to_string().c_str(), stream_error(client_.bev.get()).c_str());
    close(Termination::kClientAbort);
}

void HttpSession::handshake_timed_out() {
    listener_->stats().tls_handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
    LOG_DEBUG("http listener=%s client=%s: tls handshake timed out", listener_->config().name.c_str(),
              endpoint_.peer.to_string().c_str());
    close(Termination::kClientAbort);
}

}  // namespace lbd::l7
