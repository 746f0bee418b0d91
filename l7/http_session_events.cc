// HttpSession, part 2: the libevent callbacks. Each one dispatches on the
// connection's phase (the life cycle drawn in http_session.h) to the phase
// functions of http_session.cc and http_exchange.cc, and sends what they
// queued when it returns (FlushOnReturn, l7/socket_io.h).
#include "l7/http_session.h"

#include <event2/buffer.h>

namespace lbd::l7 {

void HttpSession::on_client_read(bufferevent*, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    switch (self->phase_) {
        case Phase::kIdle:
            self->phase_ = Phase::kHead;
            self->arm(Timer::kHeader, self->http_.timeouts.client_header_ms);
            return self->read_request_head();
        case Phase::kHead: return self->read_request_head();
        case Phase::kExchange:
            if (self->request_body_pending()) self->pump_request_body();
            return;  // else: the next pipelined request waits its turn
        case Phase::kTunnel: return self->pump_tunnel();
        default: return;
    }
}

void HttpSession::on_client_write(bufferevent* bev, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    switch (self->phase_) {
        case Phase::kExchange:
            if (self->response_started()) self->pump_response_body();
            return;
        case Phase::kTunnel: return self->pump_tunnel();
        case Phase::kClosing:
            if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) self->close(Termination::kOk);
            return;
        default: return;
    }
}

void HttpSession::on_client_event(bufferevent*, short what, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    if (self->client_.ssl != nullptr && !self->handshake_done_) return self->client_handshake_event(what);
    if (what & BEV_EVENT_ERROR) return self->close(Termination::kClientAbort);
    if (!(what & BEV_EVENT_EOF)) return;
    self->client_eof_ = true;
    switch (self->phase_) {
        case Phase::kIdle: return self->close(Termination::kOk);
        case Phase::kHead:
            // A complete request may have come with the FIN.
            self->read_request_head();
            if (!self->closed_ && self->phase_ == Phase::kHead) self->close(Termination::kClientAbort);
            return;
        case Phase::kPaused:
        case Phase::kConnecting:
            if (self->request_body_pending()) return self->close(Termination::kClientAbort);
            return;  // answer, then close
        case Phase::kExchange:
            if (self->request_body_pending()) {
                self->pump_request_body();
                if (!self->closed_ && self->request_body_pending()) self->close(Termination::kClientAbort);
                return;
            }
            return;  // answer (and the pipelined requests before the FIN), then close
        case Phase::kTunnel: return self->pump_tunnel();
        case Phase::kClosing: return self->close(Termination::kOk);
        case Phase::kClosed: return;
    }
}

void HttpSession::on_server_read(bufferevent*, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    self->exchange_->server_bytes = true;  // only an exchange's connection calls back
    if (self->phase_ == Phase::kExchange) {
        if (!self->exchange_->response_started) return self->read_response_head();
        return self->pump_response_body();
    }
    if (self->phase_ == Phase::kTunnel) self->pump_tunnel();
}

void HttpSession::on_server_write(bufferevent*, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    if (self->phase_ == Phase::kExchange && self->request_body_pending()) return self->pump_request_body();
    if (self->phase_ == Phase::kTunnel) self->pump_tunnel();
}

void HttpSession::on_server_event(bufferevent* bev, short what, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    if (self->phase_ == Phase::kConnecting) {
        if (what & BEV_EVENT_CONNECTED) {
            Exchange& ex = *self->exchange_;
            ex.connect_ms = static_cast<int64_t>(monotonic_ms() - ex.connect_start_ms);
            ex.server->counters.connect_time.observe(static_cast<uint64_t>(ex.connect_ms));
            return self->send_request();
        }
        return self->connect_failed(stream_error(bev).c_str());
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->server_closed((what & BEV_EVENT_ERROR) != 0);
}

void HttpSession::on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    // Idle timers are armed once per period and re-armed for the rest here,
    // rather than on every byte.
    auto idle_left = [self]() -> uint32_t {
        uint64_t idle = monotonic_ms() - self->last_progress_ms_;
        return idle >= self->timer_ms_ ? 0 : static_cast<uint32_t>(self->timer_ms_ - idle);
    };
    switch (self->timer_kind_) {
        case Timer::kNone: return;
        case Timer::kHandshake: return self->handshake_timed_out();
        case Timer::kPark: return self->park_idle();
        case Timer::kKeepAlive: return self->close(Termination::kOk);
        case Timer::kHeader:
            // Nothing at all since the accept or the last response: close
            // quietly, as for an idle keep-alive connection.
            if (!self->head_started_ && evbuffer_get_length(bufferevent_get_input(self->client_.bev.get())) == 0)
                return self->close(Termination::kOk);
            self->begin_exchange();
            return self->respond_error(408, Termination::kHeaderTimeout);
        case Timer::kConnect: return self->connect_failed("connect timed out");
        case Timer::kResponse: return self->server_failed(ProxyError::server(ErrorCause::kResponseTimeout));
        case Timer::kBodyIdle:
        case Timer::kTunnelIdle:
        case Timer::kFlush: {
            if (uint32_t left = idle_left(); left > 0) return arm_timer(self->timer_.get(), left);
            if (self->timer_kind_ == Timer::kTunnelIdle) return self->close(Termination::kTunnel);
            // A client that stops sending its body before any response: 408.
            if (self->phase_ == Phase::kExchange && self->request_body_pending() && !self->response_started())
                return self->respond_error(408, Termination::kBodyTimeout);
            return self->close(Termination::kBodyTimeout);
        }
    }
}

void HttpSession::on_resume(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    if (self->phase_ != Phase::kIdle) return;
    self->phase_ = Phase::kHead;
    self->arm(Timer::kHeader, self->http_.timeouts.client_header_ms);
    self->read_request_head();
}

}  // namespace lbd::l7
