// TlsStream, writing: the output encrypted into the scratch, sent, the rest
// kept in `pending_` until the write event sends it; close_notify behind the
// last record. The design is at the top of tls_stream.h.
#include "l7/tls_stream.h"

#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "l7/tls_stream_scratch.h"

namespace lbd::l7 {

using tls_stream_detail::kRecord;
using tls_stream_detail::kRecordOverhead;
using tls_stream_detail::Scratch;
using tls_stream_detail::scratch;
using tls_stream_detail::is_again;

void TlsStream::on_writable(evutil_socket_t /*fd*/, short what, void* arg) {
    auto* self = static_cast<TlsStream*>(arg);
    bufferevent* bev = self->bev_;
    if (what & EV_TIMEOUT) {
        bufferevent_disable(bev, EV_WRITE);
        bufferevent_trigger_event(bev, BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT, 0);
        return;
    }
    evbuffer* out = bufferevent_get_output(bev);
    const size_t before = evbuffer_get_length(out);
    const Sent sent = self->write_out();
    if (sent != Sent::kBlocked) bufferevent_disable(bev, EV_WRITE);
    if (sent == Sent::kFailed) {
        bufferevent_trigger_event(bev, BEV_EVENT_WRITING | BEV_EVENT_ERROR, 0);
        return;
    }
    // As libevent's write callback: the session's runs once the output is
    // down to its low watermark (bufferevent_trigger checks it).
    if (evbuffer_get_length(out) < before) bufferevent_trigger(bev, EV_WRITE, 0);
}

void TlsStream::flush() {
    if (bev_ == nullptr) return;
    // Blocked: our write event goes on sending.
    if (event_pending(&bev_->ev_write, EV_WRITE, nullptr)) return;
    evbuffer* out = bufferevent_get_output(bev_);
    const size_t before = evbuffer_get_length(out);
    if (before == 0 && encrypted_ == 0 && (!pending_ || evbuffer_get_length(pending_.get()) == 0)) {
        if (bufferevent_get_enabled(bev_) & EV_WRITE) bufferevent_disable(bev_, EV_WRITE);
        return;
    }
    switch (write_out()) {
        case Sent::kAll:
            // Everything out: the write callback, as libevent's own write would.
            if (before > 0) bufferevent_trigger(bev_, EV_WRITE, 0);
            return;
        case Sent::kBlocked: bufferevent_enable(bev_, EV_WRITE); return;
        case Sent::kFailed: bufferevent_trigger_event(bev_, BEV_EVENT_WRITING | BEV_EVENT_ERROR, 0); return;
    }
}

// Encrypts and sends the output until it is empty or the socket is full.
TlsStream::Sent TlsStream::write_out() {
    evbuffer* out = bufferevent_get_output(bev_);
    Scratch& s = scratch();
    for (;;) {
        if (const Sent sent = send_cipher(); sent != Sent::kAll) return sent;
        const size_t have = evbuffer_get_length(out);
        if (!handshake_done_) return Sent::kAll;
        if (have == 0) {
            if (!closing_ || (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN)) return Sent::kAll;
            shutdown_after(0);
            continue;  // to send it
        }
        // Records from the front of the output, while the scratch holds
        // another; the plaintext is drained once the ciphertext is sent.
        while (encrypted_ < have && sizeof s.out - s.out_len >= kRecord + kRecordOverhead) {
            const size_t len = std::min(kRecord, have - encrypted_);
            evbuffer_ptr at;
            evbuffer_ptr_set(out, &at, encrypted_, EVBUFFER_PTR_SET);
            evbuffer_iovec vec{};
            const void* data = s.piece;
            if (evbuffer_peek(out, static_cast<ev_ssize_t>(len), &at, &vec, 1) >= 1 && vec.iov_len >= len) {
                data = vec.iov_base;
            } else {
                // In pieces (a head and its body): gathered into one record.
                // evbuffer_copyout_from refuses a buffer whose start is
                // frozen, as the bufferevent keeps its output's.
                evbuffer_unfreeze(out, 1);
                const ev_ssize_t copied = evbuffer_copyout_from(out, &at, s.piece, len);
                evbuffer_freeze(out, 1);
                if (copied != static_cast<ev_ssize_t>(len)) {
                    error_ = "cannot read the output";
                    s.out_len = 0;
                    return Sent::kFailed;
                }
            }
            ERR_clear_error();
            const int r = SSL_write(ssl_.get(), data, static_cast<int>(len));
            if (r <= 0) {
                // Our BIO never blocks: any failure is final.
                fail_tls(SSL_get_error(ssl_.get(), r));
                s.out_len = 0;
                return Sent::kFailed;
            }
            encrypted_ += static_cast<size_t>(r);
        }
        shutdown_after(have);
    }
}

// Sends the scratch's ciphertext (or queues it behind `pending_`), then
// `pending_`; once all is out, drains the plaintext it came from.
TlsStream::Sent TlsStream::send_cipher() {
    Scratch& s = scratch();
    const evutil_socket_t fd = bufferevent_getfd(bev_);
    const bool queued = pending_ && evbuffer_get_length(pending_.get()) > 0;
    size_t sent = 0;
    if (s.out_len > 0 && !queued) {
        const ssize_t n = send(fd, s.out, s.out_len, MSG_NOSIGNAL);
        if (n < 0 && !is_again(errno)) {
            s.out_len = 0;
            fail_socket(errno);
            return Sent::kFailed;
        }
        sent = n > 0 ? static_cast<size_t>(n) : 0;
    }
    if (sent < s.out_len) {
        // The socket is full: the rest waits in `pending_` (the scratch is
        // the next stream's).
        if (!pending_) pending_.reset(evbuffer_new());
        evbuffer_add(pending_.get(), s.out + sent, s.out_len - sent);
    }
    s.out_len = 0;
    if (pending_ && evbuffer_get_length(pending_.get()) > 0) {
        if (evbuffer_write(pending_.get(), fd) < 0 && !is_again(errno)) {
            fail_socket(errno);
            return Sent::kFailed;
        }
        if (evbuffer_get_length(pending_.get()) > 0) return Sent::kBlocked;
    }
    if (encrypted_ > 0) {
        // As for the input's end, the output's start is frozen but for the
        // bufferevent's own writes: thawed for this drain.
        evbuffer* out = bufferevent_get_output(bev_);
        evbuffer_unfreeze(out, 1);
        evbuffer_drain(out, encrypted_);
        evbuffer_freeze(out, 1);
        encrypted_ = 0;
    }
    return Sent::kAll;
}

int TlsStream::bio_write(BIO* bio, const char* data, int len) {
    BIO_clear_retry_flags(bio);
    auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
    if (self == nullptr || len < 0) return -1;
    self->take_cipher(data, static_cast<size_t>(len));
    return len;
}

void TlsStream::take_cipher(const char* data, size_t len) {
    Scratch& s = scratch();
    const bool queued = pending_ && evbuffer_get_length(pending_.get()) > 0;
    if (!queued && s.out_len + len <= sizeof s.out) {
        std::memcpy(s.out + s.out_len, data, len);
        s.out_len += len;
        return;
    }
    // Behind what waits already, or more than the scratch holds: in order,
    // into `pending_`.
    if (!pending_) pending_.reset(evbuffer_new());
    if (s.out_len > 0) {
        evbuffer_add(pending_.get(), s.out, s.out_len);
        s.out_len = 0;
    }
    evbuffer_add(pending_.get(), data, len);
}

void TlsStream::close_notify() {
    if (bev_ == nullptr || !handshake_done_ || !SSL_is_init_finished(ssl_.get()) || closing_) return;
    closing_ = true;
    // With an output to send, write_out() adds the alert behind its last
    // record, in the same send(). Else now: one non-blocking attempt (the
    // socket has room, having taken everything); if it does not take it,
    // the peer sees a dirty close.
    if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) write_out();
}

// The close_notify alert, once the whole output is encrypted (close_notify()).
void TlsStream::shutdown_after(size_t have) {
    if (!closing_ || encrypted_ != have || (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN)) return;
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

}  // namespace lbd::l7
