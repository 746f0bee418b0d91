// ExchangeDriver, part 3: a long response body moved from the server's socket
// to the client's by splice(2), through a pipe, instead of being read into an
// evbuffer and written out again (exchange_driver.h).
//
// Why: on the copying path every body byte is copied twice in the kernel
// (server socket -> lbd's heap -> client socket) and both copies are charged
// to lbd's worker; spliced, the pages the server's kernel queued are handed on
// by reference. HAProxy's `option splice-auto` does the same. Measured on
// bench/l7.sh's big row (bench/README.md, issue 17): lbd's CPU per GiB and the
// backend's both fall, and with them the load on the CPU the backend and the
// client share.
//
// When: a plain HTTP/1 client (ClientSide::client_socket), a plain HTTP/1
// server connection (no TLS, no HTTP/2 stream), no body stages, the body
// relayed as it came (ClientFraming::kAsIs) and a Content-Length with at
// least kSpliceAtLeast bytes still to come, and nothing of it left in the
// server stream's input. What the pump had already queued for the client
// (the head, the first read's body bytes) is written first.
//
// Back-pressure as on the copying path: bytes the client cannot take stay in
// the pipe, and the server is not read until they are gone; the bufferevent's
// own read event is off meanwhile, two one-shot events of the driver's wait
// on the server's readability and the client's writability. The pipe is made
// for the body and closed after it (no descriptors held between requests);
// when none can be made (lbd's descriptors), the body is copied as before.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "l7/exchange_driver.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

namespace {

// Shorter bodies are copied: a pipe costs four system calls (pipe2, fcntl, two
// close) and the copying path moves 64 KiB per read anyway.
constexpr uint64_t kSpliceAtLeast = 256 * 1024;
// The pipe holds this much (the default is 64 KiB): one splice each way per
// 256 KiB the server has ready. Past the user's pipe-user-pages-soft the
// fcntl fails and the pipe keeps its default size, which works as well.
constexpr int kPipeSize = 256 * 1024;
// No SPLICE_F_MORE: it would cork the client's last partial segment for as
// long as a slow server pauses.
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

}  // namespace

bool ExchangeDriver::can_splice() const {
    const Exchange& ex = *ex_;
    if (!ex.body_filters.empty() || ex.framing != ClientFraming::kAsIs ||
        ex.response.framing != BodyFraming::kContentLength || ex.server_eof)
        return false;
    if (ex.upstream->tls != nullptr || ex.upstream->link != nullptr || ex.pool->config().http2) return false;
    if (client_.client_socket() < 0 || evbuffer_get_length(bufferevent_get_input(ex.upstream->bev.get())) != 0)
        return false;
    return response_length_ - ex.response_body.body_bytes() >= kSpliceAtLeast;
}

bool ExchangeDriver::start_splice() {
    Exchange& ex = *ex_;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    pipe_read_.reset(fds[0]);
    pipe_write_.reset(fds[1]);
    fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
    splice_left_ = response_length_ - ex.response_body.body_bytes();
    pipe_bytes_ = 0;
    splicing_ = true;
    hold_server_reads(true);  // the bufferevent reads no more: splice does
    splice_server_ev_ = make_event(worker_.base(), bufferevent_getfd(ex.upstream->bev.get()), EV_READ,
                                   &ExchangeDriver::on_splice_event, this);
    splice_client_ev_ =
        make_event(worker_.base(), client_.client_socket(), EV_WRITE, &ExchangeDriver::on_splice_event, this);
    pump_splice();
    return true;
}

void ExchangeDriver::on_splice_event(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<ExchangeDriver*>(arg);
    FlushOnReturn flush{*self};
    if (self->ex_ != nullptr && self->splicing_) self->pump_splice();
}

void ExchangeDriver::pump_splice() {
    Exchange& ex = *ex_;
    // What the pump queued before (the head, the first bytes) goes first;
    // the client's write callback comes back here once it has drained.
    if (evbuffer_get_length(client_.response_output()) > 0) {
        client_.flush();
        if (evbuffer_get_length(client_.response_output()) > 0) return;
    }
    const int server_fd = bufferevent_getfd(ex.upstream->bev.get());
    const int client_fd = client_.client_socket();
    bool moved = false;
    for (;;) {
        if (pipe_bytes_ > 0) {
            const ssize_t n = splice(pipe_read_.get(), nullptr, client_fd, nullptr, pipe_bytes_, kSpliceFlags);
            if (n > 0) {
                pipe_bytes_ -= static_cast<size_t>(n);
                ex.bytes_out += static_cast<uint64_t>(n);
                moved = true;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                event_add(splice_client_ev_.get(), nullptr);
                break;
            }
            end_splice();
            return client_.abort(Termination::kClientAbort);
        }
        if (splice_left_ == 0) break;
        const size_t want = static_cast<size_t>(std::min<uint64_t>(splice_left_, kPipeSize));
        const ssize_t n = splice(server_fd, nullptr, pipe_write_.get(), nullptr, want, kSpliceFlags);
        if (n > 0) {
            splice_left_ -= static_cast<uint64_t>(n);
            pipe_bytes_ += static_cast<size_t>(n);
            ex.server->counters.bytes_from_server.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
            moved = true;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            event_add(splice_server_ev_.get(), nullptr);
            break;
        }
        // The server closed (0) or failed before the body's end: the client's
        // connection is cut, so the truncated body does not look complete.
        ex.server_eof = true;
        end_splice();
        return client_.abort(Termination::kServerAbort);
    }
    if (moved) timer_.progress();
    if (splice_left_ > 0 || pipe_bytes_ > 0) return;
    end_splice();
    response_complete();
}

void ExchangeDriver::end_splice() {
    if (!splicing_) return;
    splicing_ = false;
    splice_server_ev_.reset();
    splice_client_ev_.reset();
    pipe_read_.reset();
    pipe_write_.reset();
    pipe_bytes_ = 0;
}

}  // namespace lbd::l7
