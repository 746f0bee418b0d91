// HttpSession, part 2: the client's libevent callbacks. Each one dispatches
// on the connection's phase (the life cycle drawn in http_session.h) to the
// phase functions of http_session.cc or, while a request is out, to its
// ExchangeDriver, and sends what they queued when it returns
// (FlushOnReturn, l7/socket_io.h). The server's callbacks are the driver's.
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
        case Phase::kExchange: return self->driver_.client_readable();
        case Phase::kH2: return self->h2_->on_read();
        default: return;
    }
}

void HttpSession::on_client_write(bufferevent* bev, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    switch (self->phase_) {
        case Phase::kExchange: return self->driver_.client_writable();
        case Phase::kH2: return self->h2_->on_write();
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
        case Phase::kExchange: return self->driver_.client_eof();
        case Phase::kH2: return self->close(Termination::kClientAbort);
        case Phase::kClosing: return self->close(Termination::kOk);
        case Phase::kClosed: return;
    }
}

void HttpSession::on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<HttpSession*>(arg);
    FlushOnReturn flush{*self};
    switch (self->timer_.kind()) {
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
        case Timer::kFlush: {
            // The last response's bytes did not drain in time.
            if (!self->timer_.idle_for_period()) return;
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
