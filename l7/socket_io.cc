#include "l7/socket_io.h"

#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "l7/tls_stream.h"

namespace lbd::l7 {

namespace {

// One read's reservation. Under 64 KiB so that a new evbuffer chain (the
// size rounded up to a power of two, with its header) is one 64 KiB block.
constexpr size_t kReadSize = 64 * 1024 - 256;
// Read even when the input is at (or past) its high watermark: the commit
// then runs the watermark callback, which suspends reading. libevent reads
// this much in that case too.
constexpr size_t kMinRead = 4096;
// Most bytes one writev sends (libevent's default: 16 KiB). The output
// buffers hold up to 256 KiB plus a read (kBodyHighWater in exchange_driver.h).
constexpr ev_ssize_t kMaxWrite = 256 * 1024;
// A TLS stream's output up to this size is made one piece before libevent
// writes it: one TLS record (at most 16 KiB of plaintext) and one send().
constexpr size_t kMaxCoalesce = 16 * 1024;

// One readv of up to `want` bytes into the free space at the end of `in`:
// the bytes read, 0 at EOF, -1 with errno, -2 when no space could be had.
ssize_t read_into(evutil_socket_t fd, evbuffer* in, size_t want) {
    evbuffer_iovec vec[2];
    const int n = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(want), vec, 2);
    if (n < 1) return -2;
    iovec iov[2];
    size_t room = 0;
    for (int i = 0; i < n; ++i) {
        iov[i] = {vec[i].iov_base, std::min(vec[i].iov_len, want - room)};
        room += iov[i].iov_len;
    }
    const ssize_t got = readv(fd, iov, n);
    if (got <= 0) return got;
    size_t left = static_cast<size_t>(got);
    int used = 0;
    for (; used < n && left > 0; ++used) {
        vec[used].iov_len = std::min(iov[used].iov_len, left);
        left -= vec[used].iov_len;
    }
    evbuffer_commit_space(in, vec, used);
    return got;
}

// What libevent's bufferevent_readcb does, with one readv of up to kReadSize.
void on_readable(evutil_socket_t fd, short what, void* arg) {
    auto* bev = static_cast<bufferevent*>(arg);
    short error = BEV_EVENT_READING;
    if (what & EV_TIMEOUT) {
        error |= BEV_EVENT_TIMEOUT;
    } else {
        evbuffer* in = bufferevent_get_input(bev);
        size_t want = kReadSize;
        if (const size_t high = bev->wm_read.high; high != 0) {
            // One byte short of the watermark: a read that reached it would
            // have libevent suspend reading (epoll_ctl DEL) and, once the
            // pump took the bytes, resume it (ADD), two system calls per
            // read. Whether the server is read on is the pump's to say
            // (hold_server_reads); only input left waiting reaches the
            // watermark, by the next read (kMinRead).
            const size_t have = evbuffer_get_length(in);
            want = have + 1 < high ? std::min(want, high - 1 - have) : kMinRead;
        }
        // A bufferevent keeps the end of its input frozen (only its own read
        // adds there): thawed for this read, as bufferevent_readcb does.
        evbuffer_unfreeze(in, 0);
        const ssize_t got = read_into(fd, in, want);
        const int read_errno = errno;
        evbuffer_freeze(in, 0);
        if (got > 0) {
            bufferevent_trigger(bev, EV_READ, 0);
            return;
        }
        if (got == -2) {
            error |= BEV_EVENT_ERROR;  // out of memory
        } else {
            if (got < 0 && (read_errno == EAGAIN || read_errno == EWOULDBLOCK || read_errno == EINTR)) return;
            error |= got == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR;
        }
    }
    // As libevent: a stream that ended or failed stops reading, then says so.
    bufferevent_disable(bev, EV_READ);
    bufferevent_trigger_event(bev, error, 0);
}

bool writes_through(const bufferevent* bev) { return event_get_callback(&bev->ev_read) == &on_readable; }

}  // namespace

// libevent's read callback of socket bufferevents (static inside libevent),
// taken from a throwaway one: a stream of another kind, such as a TLS
// bufferevent on its socket, is then never taken over by mistake.
event_callback_fn socket_read_callback(event_base* base) {
    static const event_callback_fn callback = [base] {
        bufferevent* probe = bufferevent_socket_new(base, -1, 0);
        event_callback_fn fn = probe != nullptr ? event_get_callback(&probe->ev_read) : nullptr;
        if (probe != nullptr) bufferevent_free(probe);
        return fn;
    }();
    return callback;
}

void use_large_io(bufferevent* bev) {
    event* ev = &bev->ev_read;
    if (event_get_callback(ev) != socket_read_callback(bufferevent_get_base(bev))) return;
    const bool pending = event_pending(ev, EV_READ, nullptr) != 0;
    if (pending) event_del(ev);
    event_assign(ev, bufferevent_get_base(bev), bufferevent_getfd(bev), EV_READ | EV_PERSIST | EV_FINALIZE,
                 &on_readable, bev);
    if (pending) event_add(ev, evutil_timerisset(&bev->timeout_read) ? &bev->timeout_read : nullptr);
    bufferevent_set_max_single_write(bev, kMaxWrite);
}

void read_now(bufferevent* bev) {
    if (TlsStream* tls = TlsStream::of(bev)) return tls->read_now();
    if (writes_through(bev) && (bufferevent_get_enabled(bev) & EV_READ))
        on_readable(bufferevent_getfd(bev), EV_READ, bev);
}

void enable_stream(bufferevent* bev) {
    if (!writes_through(bev) && TlsStream::of(bev) == nullptr) {
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        return;
    }
    bufferevent_enable(bev, EV_READ);
    // On after a connect; off once nothing waits (no epoll_ctl: not pending).
    if (!event_pending(&bev->ev_write, EV_WRITE, nullptr)) bufferevent_disable(bev, EV_WRITE);
}

void flush_output(bufferevent* bev) {
    if (bev == nullptr) return;
    if (TlsStream* tls = TlsStream::of(bev)) return tls->flush();
    if (!writes_through(bev)) {
        // A server's TLS stream: bufferevent_openssl makes one SSL_write, so one record and one
        // send(), per piece of the output, and a response head and its small
        // body are two pieces. It sets SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
        // so joining them is safe even while a write is being retried.
        evbuffer* out = bufferevent_get_output(bev);
        const size_t n = evbuffer_get_length(out);
        if (n > 0 && n <= kMaxCoalesce && evbuffer_get_contiguous_space(out) < n) evbuffer_pullup(out, -1);
        return;
    }
    // Connecting, or libevent already sends the rest: it goes on doing so.
    if (event_pending(&bev->ev_write, EV_WRITE, nullptr)) return;
    evbuffer* out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) == 0) {
        if (bufferevent_get_enabled(bev) & EV_WRITE) bufferevent_disable(bev, EV_WRITE);
        return;
    }
    // As the input's end, the output's start is frozen but for libevent's
    // own writes: thawed for this one.
    evbuffer_unfreeze(out, 1);
    const int sent = evbuffer_write_atmost(out, bufferevent_getfd(bev), kMaxWrite);
    evbuffer_freeze(out, 1);
    if (sent > 0 && evbuffer_get_length(out) == 0) {
        bufferevent_trigger(bev, EV_WRITE, 0);
        return;
    }
    // Part sent, a full socket or an error: libevent's write event takes over
    // (and reports an error as BEV_EVENT_WRITING | BEV_EVENT_ERROR).
    bufferevent_enable(bev, EV_WRITE);
}

}  // namespace lbd::l7
