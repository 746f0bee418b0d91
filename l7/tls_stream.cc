// TlsStream: TLS client streams on our own read and write events. The design
// is at the top of tls_stream.h.
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

#include "l7/tls_context.h"

namespace lbd::l7 {

namespace {

// Most plaintext in one TLS record (RFC 8446 §5.1), and a generous bound on
// what a record adds to it (header, explicit IV, tag or MAC and padding).
constexpr size_t kRecord = 16 * 1024;
constexpr size_t kRecordOverhead = 512;
// Ciphertext per recv(): as socket_io.cc (a 64 KiB evbuffer chain holds it
// decrypted).
constexpr size_t kReadSize = 64 * 1024 - 256;
// Read even at (or past) the high watermark: the commit then runs the
// watermark callback, which suspends reading (as socket_io.cc).
constexpr size_t kMinRead = 4096;

// Per worker thread, empty between passes (tls_stream.h).
struct Scratch {
    char in[kReadSize];                          // ciphertext received
    char out[4 * (kRecord + kRecordOverhead)];   // ciphertext made: 4 records per send()
    size_t out_len = 0;
    char piece[kRecord];  // plaintext gathered into one record when the output is in pieces
};

Scratch& scratch() {
    // Heap, not static TLS: glibc carves static TLS out of each thread's stack.
    thread_local std::unique_ptr<Scratch> s = std::make_unique<Scratch>();
    return *s;
}

// Our BIO: reads what the current read pass received, takes every byte
// OpenSSL writes (tls_stream.h). BIO_CTRL_FLUSH must say yes: OpenSSL
// flushes after each handshake flight and takes a 0 as a failure.
long bio_ctrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

bool is_again(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

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

// --- writing ------------------------------------------------------------------------

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
