// HttpSession on a connection that speaks HTTP/2: how it is recognised (the
// h2c preface on a listener with `http2 { cleartext: true }`, or ALPN "h2"
// after the TLS handshake, http_session_tls.cc) and the hand-over to the
// HTTP/2 codec (h2_connection.h), which then gets every client event.
#include <algorithm>
#include <cstring>

#include "core/base/log.h"
#include "l7/http_listener.h"
#include "l7/http_session.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

namespace {

// RFC 9113 §3.4: the client connection preface.
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kPrefaceLength = sizeof kPreface - 1;

}  // namespace

bool HttpSession::h2_preface() {
    evbuffer* in = bufferevent_get_input(client_.bev.get());
    const size_t n = std::min(evbuffer_get_length(in), kPrefaceLength);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
    if (std::memcmp(data, kPreface, n) != 0) return false;  // HTTP/1
    // A partial preface: wait for the rest (under the header timeout).
    if (n == kPrefaceLength) start_h2();
    return true;
}

void HttpSession::start_h2() {
    phase_ = Phase::kH2;
    timer_.stop();  // the codec keeps its own idle timeout
    h2_ = std::make_unique<H2Connection>(worker_, *listener_, endpoint_, client_.bev.get(), *this);
    if (!h2_->start()) {
        LOG_WARN("http listener=%s: cannot start an HTTP/2 session (out of memory)", listener_->config().name.c_str());
        return close(Termination::kLocalError);
    }
    // A drain or handover began while the preface was on its way, or a
    // reload replaced the listener: the connection's streams go elsewhere
    // after this GOAWAY.
    if (draining_ && !closed_) h2_->drain();
    else if (listener_->replaced() && !closed_) drain_softly();
}

void HttpSession::resume_h2() {
    phase_ = Phase::kH2;
    std::unique_ptr<H2ParkedState> state = std::move(parked_h2_);
    h2_ = std::make_unique<H2Connection>(worker_, *listener_, endpoint_, client_.bev.get(), *this);
    if (!h2_->resume(*state)) {
        LOG_WARN("http listener=%s: cannot resume an HTTP/2 session (out of memory)", listener_->config().name.c_str());
        return close(Termination::kLocalError);
    }
    // Woken by a drain, a handover or a reload (ParkedClients), or parked
    // when it began.
    if (worker_.draining()) drain();
    else if (worker_.handing_over() || listener_->replaced()) drain_softly();
}

bool HttpSession::h2_park(std::unique_ptr<H2ParkedState> state, uint32_t idle_left_ms) {
    idle_since_ms_ = monotonic_ms();
    return park(std::move(state), idle_left_ms);
}

void HttpSession::expire_idle() {
    if (h2_ && !closed_) h2_->expire_idle();
}

void HttpSession::h2_exchange_ended(const Exchange& ex, Termination term) {
    HttpListenerStats& stats = listener_->stats();
    stats.ended[static_cast<size_t>(term)].fetch_add(1, std::memory_order_relaxed);
    stats.request_duration.observe(monotonic_ms() - ex.start_ms);
    log_request(ex, term);
}

}  // namespace lbd::l7
