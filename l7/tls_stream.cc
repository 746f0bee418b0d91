// TlsStream: TLS client streams on our own read and write events (the design
// is at the top of tls_stream.h): set-up, reading and the handshake, failures.
// Writing is in tls_stream_write.cc.
#include "l7/tls_stream.h"

#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "l7/tls/tls_context.h"
#include "l7/tls_stream_scratch.h"

namespace lbd::l7 {

using tls_stream_detail::kRecord;
using tls_stream_detail::kRecordOverhead;
using tls_stream_detail::kReadSize;
using tls_stream_detail::kMinRead;
using tls_stream_detail::Scratch;
using tls_stream_detail::scratch;
using tls_stream_detail::is_again;

namespace {

// Our BIO: reads what the current read pass received, takes every byte
// OpenSSL writes (tls_stream.h). BIO_CTRL_FLUSH must say yes: OpenSSL
// flushes after each handshake flight and takes a 0 as a failure.
long bio_ctrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

}  // namespace

// Our BIO's method and type, made once (process-wide, immutable after).
const TlsStream::BioKind& TlsStream::bio_kind() {
    static const BioKind kind = [] {
        BioKind k;
        k.type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
        k.method = BIO_meth_new(k.type, "lbd tls stream");
        if (k.method == nullptr) return k;
        BIO_meth_set_read(k.method, &TlsStream::bio_read);
        BIO_meth_set_write(k.method, &TlsStream::bio_write);
        BIO_meth_set_ctrl(k.method, &bio_ctrl);
        BIO_meth_set_create(k.method, &bio_create);
        return k;
    }();
    return kind;
}

TlsStream::TlsStream(bufferevent* bev, SslPtr ssl, bool handshake_done)
    : bev_(bev), ssl_(std::move(ssl)), handshake_done_(handshake_done) {
    // A resumed SSL has our BIO already; a new one gets it, both ways
    // (SSL_set_bio takes one reference then).
    BIO* bio = SSL_get_rbio(ssl_.get());
    if (bio == nullptr || BIO_method_type(bio) != bio_kind().type) {
        bio = bio_kind().method != nullptr ? BIO_new(bio_kind().method) : nullptr;
        if (bio == nullptr) {
            // As make_event(): a failed small malloc is not recovered from.
            std::fprintf(stderr, "BIO_new failed: out of memory\n");
            std::abort();
        }
        SSL_set_bio(ssl_.get(), bio, bio);
    }
    BIO_set_data(bio, this);
    // A partial record stays in OpenSSL's buffer; every recv() is consumed.
    SSL_set_read_ahead(ssl_.get(), 1);
    event_base* base = bufferevent_get_base(bev_);
    const evutil_socket_t fd = bufferevent_getfd(bev_);
    // The read event's argument stays the bufferevent: libevent's teardown
    // passes it to its finalizer. The write event's is this stream.
    event_assign(&bev_->ev_read, base, fd, EV_READ | EV_PERSIST | EV_FINALIZE, &TlsStream::on_readable, bev_);
    event_assign(&bev_->ev_write, base, fd, EV_WRITE | EV_PERSIST | EV_FINALIZE, &TlsStream::on_writable, this);
}

TlsStream::~TlsStream() { detach(); }

TlsStream* TlsStream::of(const bufferevent* bev) {
    if (bev == nullptr || event_get_callback(&bev->ev_write) != &TlsStream::on_writable) return nullptr;
    return static_cast<TlsStream*>(event_get_callback_arg(&bev->ev_write));
}

void TlsStream::detach() {
    if (bev_ == nullptr) return;
    // Deleted, and pointed at a no-op with the bufferevent as argument (what
    // libevent's teardown expects): of() no longer finds this stream, in
    // whatever order a ClientStream's members go.
    event_base* base = bufferevent_get_base(bev_);
    const evutil_socket_t fd = bufferevent_getfd(bev_);
    auto detached = [](evutil_socket_t, short, void*) {};
    event_del(&bev_->ev_read);
    event_del(&bev_->ev_write);
    event_assign(&bev_->ev_read, base, fd, EV_READ | EV_PERSIST | EV_FINALIZE, detached, bev_);
    event_assign(&bev_->ev_write, base, fd, EV_WRITE | EV_PERSIST | EV_FINALIZE, detached, bev_);
    bev_ = nullptr;
}

SslPtr TlsStream::release_ssl() {
    detach();
    if (ssl_) BIO_set_data(SSL_get_rbio(ssl_.get()), nullptr);
    return std::move(ssl_);
}

// --- reading ------------------------------------------------------------------------

void TlsStream::on_readable(evutil_socket_t /*fd*/, short what, void* arg) {
    TlsStream* self = of(static_cast<bufferevent*>(arg));
    if (what & EV_TIMEOUT) {
        bufferevent_disable(self->bev_, EV_READ);
        bufferevent_trigger_event(self->bev_, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
        return;
    }
    self->read_pass();
}

void TlsStream::read_now() {
    if (bev_ != nullptr && (bufferevent_get_enabled(bev_) & EV_READ)) read_pass();
}

void TlsStream::read_pass() {
    bufferevent* bev = bev_;
    evbuffer* in = bufferevent_get_input(bev);
    size_t want = kReadSize;
    if (const size_t high = bev->wm_read.high; high != 0) {
        const size_t have = evbuffer_get_length(in);
        want = have < high ? std::min(want, high - have) : kMinRead;
    }
    Scratch& s = scratch();
    const ssize_t got = recv(bufferevent_getfd(bev), s.in, want, 0);
    if (got < 0 && is_again(errno)) return;
    short end = 0;
    size_t plain = 0;
    if (got <= 0) {
        if (got < 0) fail_socket(errno);
        end = BEV_EVENT_READING | (got == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
    } else {
        // Decrypted, the bytes are fewer than received, but for a record
        // begun in an earlier recv() (read_ahead keeps it inside OpenSSL).
        const size_t room = static_cast<size_t>(got) + (SSL_has_pending(ssl_.get()) ? kRecord + kRecordOverhead : 0);
        in_ = s.in;
        in_len_ = static_cast<size_t>(got);
        if (!handshake_done_) {
            ERR_clear_error();
            const int r = SSL_do_handshake(ssl_.get());
            if (r == 1) {
                handshake_done_ = true;
                bufferevent_trigger_event(bev, BEV_EVENT_CONNECTED, 0);
            } else if (const int e = SSL_get_error(ssl_.get(), r); e != SSL_ERROR_WANT_READ) {
                fail_tls(e);
                end = BEV_EVENT_READING | (e == SSL_ERROR_ZERO_RETURN ? BEV_EVENT_EOF : BEV_EVENT_ERROR);
            }
        }
        // The request that came with the client's Finished, in this pass.
        if (handshake_done_ && end == 0) end = decrypt(room, &plain);
        in_ = nullptr;
        in_len_ = 0;
    }
    // What the handshake or the reads wrote (a flight, tickets, an alert).
    const Sent sent = send_cipher();
    if (sent == Sent::kBlocked) bufferevent_enable(bev, EV_WRITE);
    if (plain > 0) bufferevent_trigger(bev, EV_READ, 0);
    if (end != 0) {
        // As libevent: a stream that ended or failed stops reading, then says so.
        bufferevent_disable(bev, EV_READ);
        bufferevent_trigger_event(bev, end, 0);
    } else if (sent == Sent::kFailed) {
        bufferevent_disable(bev, EV_WRITE);
        bufferevent_trigger_event(bev, BEV_EVENT_WRITING | BEV_EVENT_ERROR, 0);
    }
}

// SSL_read until OpenSSL wants more ciphertext, into the input's free space.
// Returns 0, or the BEV_EVENT_* the stream ends with.
short TlsStream::decrypt(size_t room, size_t* plain) {
    evbuffer* in = bufferevent_get_input(bev_);
    // A bufferevent keeps the end of its input frozen but for its own reads.
    evbuffer_unfreeze(in, 0);
    short end = 0;
    for (;;) {
        evbuffer_iovec vec[2];
        const int n = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(room), vec, 2);
        if (n < 1) {
            error_ = "out of memory";
            end = BEV_EVENT_READING | BEV_EVENT_ERROR;
            break;
        }
        size_t fill[2] = {0, 0};
        int i = 0;
        int ssl_error = SSL_ERROR_NONE;
        while (i < n) {
            const size_t left = vec[i].iov_len - fill[i];
            if (left == 0) {
                ++i;
                continue;
            }
            ERR_clear_error();
            const int r = SSL_read(ssl_.get(), static_cast<char*>(vec[i].iov_base) + fill[i],
                                   static_cast<int>(std::min<size_t>(left, INT_MAX)));
            if (r <= 0) {
                ssl_error = SSL_get_error(ssl_.get(), r);
                break;
            }
            fill[i] += static_cast<size_t>(r);
        }
        int used = 0;
        for (; used < n && fill[used] > 0; ++used) {
            vec[used].iov_len = fill[used];
            *plain += fill[used];
        }
        if (used > 0) evbuffer_commit_space(in, vec, used);
        if (i == n) {
            room = kRecord;  // the space ran out before the ciphertext did
            continue;
        }
        if (ssl_error == SSL_ERROR_WANT_READ) break;
        if (ssl_error == SSL_ERROR_ZERO_RETURN) {
            end = BEV_EVENT_READING | BEV_EVENT_EOF;  // close_notify
        } else {
            fail_tls(ssl_error);
            end = BEV_EVENT_READING | BEV_EVENT_ERROR;
        }
        break;
    }
    evbuffer_freeze(in, 0);
    return end;
}

int TlsStream::bio_read(BIO* bio, char* out, int len) {
    BIO_clear_retry_flags(bio);
    auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
    if (self == nullptr || self->in_len_ == 0 || len <= 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    const size_t n = std::min(self->in_len_, static_cast<size_t>(len));
    std::memcpy(out, self->in_, n);
    self->in_ += n;
    self->in_len_ -= n;
    return static_cast<int>(n);
}

// --- failures -----------------------------------------------------------------------

void TlsStream::fail_tls(int ssl_error) {
    std::string why = take_tls_errors();
    if (why.empty() && ssl_error == SSL_ERROR_SYSCALL) why = "unexpected end of stream";
    if (why.empty()) why = "SSL error " + std::to_string(ssl_error);
    if (SSL_get_verify_result(ssl_.get()) != X509_V_OK) why += "; " + std::string(verify_result_text(ssl_.get()));
    if (error_.empty()) error_ = "tls: " + why;
}

void TlsStream::fail_socket(int err) {
    if (error_.empty()) error_ = std::strerror(err);
}

}  // namespace lbd::l7
