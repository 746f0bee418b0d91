// ExchangeDriver, part 2: the exchange with the server (phases 4-7), body
// streaming with back-pressure, and upgraded tunnels (exchange_driver.h).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/base/log.h"
#include "core/health/passive_health.h"
#include "core/net/local_errors.h"
#include "l7/http_listener.h"
#include "l7/exchange_driver.h"
#include "l7/h2_upstream.h"
#include "l7/l7_worker.h"
#include "l7/route_filter.h"
#include "l7/socket_io.h"
#include "l7/transport.h"

namespace lbd::l7 {

namespace {

// The server's read watermark per ServerRead (client_side.h); a response
// through body stages whose client has fallen behind (kStagedBodyHighWater)
// reads small too: what waits for a slow client is one small read, not a
// full one beside the encoder's state. The small one is under a power of
// two so that a read's new evbuffer chain (its size rounded up to a power
// of two with its header, socket_io.cc) is a 16 KiB block, not 32.
size_t server_read_high_water(ServerRead size) { return size == ServerRead::kSmall ? 16 * 1024 - 256 : 64 * 1024 + 1; }
constexpr size_t kWriteLowWater = 64 * 1024;
// A response head larger than this is a bad response (502).
constexpr size_t kMaxResponseHead = 64 * 1024;

HttpLimits response_limits() {
    HttpLimits limits;
    limits.max_header_bytes = kMaxResponseHead;
    limits.max_header_count = 500;  // Set-Cookie galore
    return limits;
}

// The first contiguous piece of `buffer` (empty if none).
std::string_view first_piece(evbuffer* buffer) {
    evbuffer_iovec vec{};
    if (evbuffer_peek(buffer, -1, nullptr, &vec, 1) < 1) return {};
    return {static_cast<const char*>(vec.iov_base), vec.iov_len};
}

}  // namespace

// --- 3b. a stream to an HTTP/2 server -----------------------------------------------

void ExchangeDriver::connect_h2(const std::shared_ptr<const TlsClientContext>& tls) {
    Exchange& ex = *ex_;
    H2Upstreams::Opened opened =
        worker_.upstreams().h2(worker_.base()).open(ex, http_.timeouts.server_idle_ms, tls, tls_check_name(tls.get()));
    if (!opened.conn) {
        if (local_cause(opened.error)) return local_connect_failure(opened.error);
        return connect_failed(strerror(opened.error));
    }
    ex.upstream = std::move(opened.conn);
    // The stream calls these as a socket's events would (h2_upstream.h).
    bufferevent_setcb(ex.upstream->bev.get(), &ExchangeDriver::on_server_read, &ExchangeDriver::on_server_write,
                      &ExchangeDriver::on_server_event, this);
    ex.reused_connection = opened.ready;
    if (opened.ready) {
        ex.connect_ms = 0;
        return send_request();
    }
    ex.connect_start_ms = monotonic_ms();
    const uint32_t route_connect_ms = effective_timeouts(http_, ex).server_connect_ms;
    timer_.arm(Timer::kConnect, route_connect_ms != 0 ? route_connect_ms : ex.pool->config().connect_timeout_ms);
}

// --- 4. the request to the server ------------------------------------------------

void ExchangeDriver::send_request() {
    Exchange& ex = *ex_;
    state_ = State::kExchange;
    bufferevent* bev = ex.upstream->bev.get();
    server_read_ = client_.server_read();
    bufferevent_setwatermark(bev, EV_READ, 0, server_read_high_water(server_read_));
    bufferevent_setwatermark(bev, EV_WRITE, kWriteLowWater, 0);
    enable_stream(bev);
    std::string& head = head_scratch();
    serialize_request(ex.request, head);
    bufferevent_write(bev, head.data(), head.size());
    ex.server->counters.bytes_to_server.fetch_add(head.size(), std::memory_order_relaxed);
    ex.request_sent_ms = monotonic_ms();
    ex.response_started = false;
    ex.response_done = false;
    ex.response_scan = HeadScanState{};
    if (ex.request_body_done) return timer_.arm(Timer::kResponse, effective_timeouts(http_, ex).server_response_ms);
    timer_.arm(Timer::kBodyIdle, effective_timeouts(http_, ex).body_idle_ms);
    pump_request_body();
}

void ExchangeDriver::pump_request_body() {
    Exchange& ex = *ex_;
    if (!ex.upstream) return;
    evbuffer* in = client_.request_input();
    evbuffer* out = bufferevent_get_output(ex.upstream->bev.get());
    bool moved = false;
    while (!ex.request_body_done && evbuffer_get_length(out) < kBodyHighWater) {
        std::string_view piece = first_piece(in);
        if (piece.empty()) break;
        BodyResult r = ex.request_body.decode(piece);
        if (r.status == BodyStatus::kError) {
            ex.upstream.reset();  // it has part of a request: useless
            return client_.respond_error(http_status(r.error), Termination::kBadRequest);
        }
        // The framing goes on as it came (the decoder has checked it), an
        // HTTP/2 client's trailers in its chunked trailer section (h2_stream.h).
        evbuffer_remove_buffer(in, out, r.consumed);
        ex.bytes_in += r.consumed;
        ex.server->counters.bytes_to_server.fetch_add(r.consumed, std::memory_order_relaxed);
        moved = true;
        if (r.status == BodyStatus::kDone) ex.request_body_done = true;
    }
    if (moved) timer_.progress();
    // What is left in `in` waits for the server's output to drain; the
    // client is not read meanwhile (see hold_server_reads).
    client_.hold_request_reads(!ex.request_body_done && evbuffer_get_length(in) > 0);
    if (ex.request_body_done) {
        if (!ex.response_started) timer_.arm(Timer::kResponse, effective_timeouts(http_, ex).server_response_ms);
    } else if (client_.request_input_ended() && evbuffer_get_length(in) == 0) {
        client_.abort(Termination::kClientAbort);
    }
}

// --- 5. the response head -----------------------------------------------------------

void ExchangeDriver::read_response_head() {
    Exchange& ex = *ex_;
    evbuffer* in = bufferevent_get_input(ex.upstream->bev.get());
    static const HttpLimits limits = response_limits();
    HttpResponseHead& head = worker_.response_head();
    for (;;) {
        const size_t available = evbuffer_get_length(in);
        if (available == 0) return;
        const size_t n = std::min(available, kMaxResponseHead);
        const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
        HeadParseResult r = parse_response_head(std::string_view(data, n), ex.request.method_kind, limits, head,
                                                &ex.response_scan);
        // A head longer than a small read (ServerRead::kSmall): full reads,
        // or the watermark would hold the rest back.
        if (r.status == HeadStatus::kIncomplete) return set_server_read(ServerRead::kFull);
        if (r.status == HeadStatus::kError) {
            LOG_DEBUG("http listener=%s server=%s: bad response: %s", listener_.config().name.c_str(),
                      ex.server_label.c_str(), to_string(r.error));
            ex.upstream.reset();
            return server_failed(ProxyError::server(ErrorCause::kBadResponse));
        }
        if (ex.header_ms < 0) ex.header_ms = static_cast<int64_t>(monotonic_ms() - ex.request_sent_ms);
        ResponseInfo info = copy_response(head);
        BodyDecoder decoder(head, limits);
        evbuffer_drain(in, r.consumed);
        ex.server->counters.bytes_from_server.fetch_add(r.consumed, std::memory_order_relaxed);
        if (info.interim()) {
            // 100 Continue and friends: relayed to an HTTP/1.1 client (RFC
            // 9110 §15.2: not to 1.0), then the final head follows.
            client_.send_interim(ex, info);
            if (ex_ == nullptr) return;
            continue;
        }
        response_length_ = head.framing == BodyFraming::kContentLength ? head.content_length : 0;
        ex.response = std::move(info);
        ex.response_body = decoder;
        if (passive_response_status(*ex.server, ex.pool->config(), ex.response.status))
            worker_.schedule_revive(ex.server, ex.pool->config().passive_health.ejection_ms);
        return start_response();
    }
}

void ExchangeDriver::start_response() {
    Exchange& ex = *ex_;
    if (ex.response.status == 101 && !ex.request.upgrade) {  // switching protocols nobody asked for
        ex.upstream.reset();
        return server_failed(ProxyError::server(ErrorCause::kBadResponse));
    }
    // Cookie stickiness, response header rewriting (filter.h), also on a
    // 101: its head is the last one lbd writes on that connection, and
    // hide_server_headers and the header actions promise every response. An
    // answer instead of the server's response drops that response with its
    // connection.
    if (FilterResult r = listener_.filters().on_response_head(ex); r.responds()) {
        ex.upstream.reset();
        return respond(r.answer);
    }
    if (ex.response.status == 101) return start_tunnel();
    if (!make_body_stages()) {
        // lbd's own shortage; nothing went to the client yet.
        ex.upstream.reset();
        return server_failed(ex.last_error.emplace(ProxyError::local(ErrorCause::kLocalShortage)));
    }
    // The head goes out in the client's protocol (ClientSide), which
    // chooses the body's framing (with body stages: of their output).
    client_.send_response_head(ex);
    if (ex_ == nullptr) return;
    timer_.arm(Timer::kBodyIdle, effective_timeouts(http_, ex).body_idle_ms);
    pump_response_body();
}

bool ExchangeDriver::make_body_stages() {
    Exchange& ex = *ex_;
    if (ex.body_filters.empty()) return true;
    for (size_t i = 0; i <= ex.body_filters.size(); ++i) ex.body_stages.emplace_back(evbuffer_new(), &evbuffer_free);
    return std::none_of(ex.body_stages.begin(), ex.body_stages.end(), [](const auto& b) { return b == nullptr; });
}

// --- 6. the response body -------------------------------------------------------------

void ExchangeDriver::pump_response_body() {
    Exchange& ex = *ex_;
    if (!ex.upstream || ex.response_done) return;
    if (splicing_) return pump_splice();
    // With body stages (body_filter.h) every piece goes de-framed into the
    // first stage's buffer; without, it goes to the client as it came, or
    // de-chunked (an HTTP/1.0 client; HTTP/2 DATA frames).
    const bool staged = !ex.body_filters.empty();
    evbuffer* in = bufferevent_get_input(ex.upstream->bev.get());
    evbuffer* client_out = client_.response_output();
    evbuffer* out = staged ? ex.body_stages.front().get() : client_out;
    const size_t high_water = staged ? kStagedBodyHighWater : kBodyHighWater;
    bool moved = false;
    while (!ex.response_body.done() && client_.response_room(high_water) == ResponseRoom::kTake) {
        std::string_view piece = first_piece(in);
        if (piece.empty()) break;
        BodyResult r = ex.response_body.decode(piece);
        if (r.status == BodyStatus::kError) {
            LOG_DEBUG("http listener=%s server=%s: bad response body: %s", listener_.config().name.c_str(),
                      ex.server_label.c_str(), to_string(r.error));
            return client_.abort(Termination::kBadResponse);
        }
        if (staged || ex.framing == ClientFraming::kDechunk) {
            evbuffer_add(out, r.data.data(), r.data.size());
            evbuffer_drain(in, r.consumed);
            if (!staged) ex.bytes_out += r.data.size();  // the stages count what they send
        } else {
            evbuffer_remove_buffer(in, out, r.consumed);
            ex.bytes_out += r.consumed;
        }
        ex.server->counters.bytes_from_server.fetch_add(r.consumed, std::memory_order_relaxed);
        moved = true;
    }
    // The stages run once per batch of server bytes (at most the server
    // stream's read watermark), not once per piece: a compressing stage
    // flushes on each call, and an origin writing small chunks would
    // otherwise cost a flush, and bytes, per chunk. They learn whether more
    // is readable at once (a server that sent the body in one go) or the
    // server is waiting: then the one-shot gzip gives up holding the body
    // (body_filter.h). The loop stops with bytes left in `in` only for the
    // client's high water; those are read when it drains. They tell the
    // client side of their output themselves (run_body_stages).
    if (staged && moved && !ex.response_body.done()) {
        const bool holding = std::any_of(ex.body_filters.begin(), ex.body_filters.end(),
                                         [](const auto& stage) { return stage->holds_body(); });
        const bool more = evbuffer_get_length(in) > 0 || (holding && more_readable(ex.upstream->bev.get()));
        if (!run_body_stages(more ? BodyProgress::kMoreReadable : BodyProgress::kWaiting))
            return client_.abort(Termination::kLocalError);
    }
    // A client that keeps up (its output drained below the high water by
    // the time the server sends more) gets full server reads, so a fast
    // client costs no more batches, flushes and writes than before; one
    // that falls behind gets small ones until it catches up. Set again on
    // every pump: the client's flush at the end of this callback, or its
    // write event, calls here again once it has drained.
    if (!ex.response_body.done()) {
        const ServerRead size = client_.server_read();
        set_server_read(size == ServerRead::kFull && staged && evbuffer_get_length(client_out) >= high_water
                            ? ServerRead::kSmall
                            : size);
    }
    if (moved) {
        timer_.progress();
        if (!staged) client_.response_data_added();
    }
    // Whatever the pump left in `in` waits for the client: the server is not
    // read meanwhile. Not left to the read watermark alone: libevent re-runs
    // the read callback of a bufferevent whose input stays at its high
    // watermark while reading is enabled (bufferevent_inbuf_wm_check after
    // each deferred read callback), a busy loop for as long as the client
    // is slow (a core per slow download, seen with a zero-window HTTP/2
    // stream and curl --limit-rate alike).
    if (!ex.response_body.done() && can_splice() && start_splice()) return;  // body_splice.cc
    if (!ex.response_body.done()) hold_server_reads(client_.response_room(high_water) != ResponseRoom::kTake);
    if (!ex.response_body.done() && ex.server_eof && evbuffer_get_length(in) == 0) {
        // Until-close bodies end here; any other is truncated.
        if (ex.response_body.finish().status != BodyStatus::kDone) return client_.abort(Termination::kServerAbort);
    }
    if (!ex.response_body.done()) return;
    if (staged && !run_body_stages(BodyProgress::kEnd)) return client_.abort(Termination::kLocalError);
    response_complete();
}

void ExchangeDriver::set_server_read(ServerRead size) {
    if (size == server_read_) return;
    server_read_ = size;
    bufferevent_setwatermark(ex_->upstream->bev.get(), EV_READ, 0, server_read_high_water(size));
}

void ExchangeDriver::hold_server_reads(bool hold) {
    Exchange& ex = *ex_;
    // A server that closed reads no more anyway (its EOF is in hand).
    if (hold == server_reads_held_ || ex.server_eof) return;
    server_reads_held_ = hold;
    if (hold)
        bufferevent_disable(ex.upstream->bev.get(), EV_READ);
    else
        bufferevent_enable(ex.upstream->bev.get(), EV_READ);
}

// Runs the stages and moves the last one's output to the client: chunked
// anew for an HTTP/1.1 client (ClientFraming::kChunkEncode), else as it is
// (a kept Content-Length, an HTTP/1.0 until-close body, HTTP/2's DATA).
bool ExchangeDriver::run_body_stages(BodyProgress progress) {
    Exchange& ex = *ex_;
    const bool end = progress == BodyProgress::kEnd;
    for (size_t i = 0; i < ex.body_filters.size(); ++i) {
        if (!ex.body_filters[i]->on_body(ex.body_stages[i].get(), ex.body_stages[i + 1].get(), progress)) {
            LOG_WARN("http listener=%s: a response body stage failed; the response is cut",
                     listener_.config().name.c_str());
            return false;
        }
    }
    evbuffer* staged = ex.body_stages.back().get();
    evbuffer* out = client_.response_output();
    const size_t n = evbuffer_get_length(staged);
    if (ex.framing == ClientFraming::kNone) {
        evbuffer_drain(staged, n);  // HEAD, 204, 304: the stages ran, nothing is sent
        return true;
    }
    if (ex.framing == ClientFraming::kChunkEncode) {
        if (n > 0) {
            char size_line[24];
            const int len = snprintf(size_line, sizeof size_line, "%zx\r\n", n);
            evbuffer_add(out, size_line, static_cast<size_t>(len));
            evbuffer_remove_buffer(staged, out, n);
            evbuffer_add(out, "\r\n", 2);
            ex.bytes_out += static_cast<size_t>(len) + n + 2;
        }
        if (end) {
            evbuffer_add(out, "0\r\n\r\n", 5);
            ex.bytes_out += 5;
        }
    } else {
        evbuffer_remove_buffer(staged, out, n);
        ex.bytes_out += n;
    }
    if (n > 0) client_.response_data_added();
    return true;
}

void ExchangeDriver::response_complete() {
    Exchange& ex = *ex_;
    ex.response_done = true;
    timer_.stop();
    bufferevent* bev = ex.upstream->bev.get();
    const bool reusable = ex.response.keep_alive && !ex.upstream->link && ex.request_body_done && !ex.server_eof && http_.max_idle_per_server != 0 &&
                          !client_.draining() && evbuffer_get_length(bufferevent_get_input(bev)) == 0 &&
                          evbuffer_get_length(bufferevent_get_output(bev)) == 0;
    if (reusable)
        worker_.upstreams().put(std::move(ex.upstream), http_.max_idle_per_server, http_.timeouts.server_idle_ms);
    ex.release_server();
    state_ = State::kIdle;
    client_.response_done(Termination::kOk);
}

void ExchangeDriver::server_closed(bool error) {
    Exchange& ex = *ex_;
    ex.server_eof = true;
    if (state_ == State::kTunnel) return error ? client_.abort(Termination::kTunnel) : pump_tunnel();
    if (state_ != State::kExchange) return;
    if (ex.response_started) return error ? client_.abort(Termination::kServerAbort) : pump_response_body();
    evbuffer* in = bufferevent_get_input(ex.upstream->bev.get());
    if (!error && evbuffer_get_length(in) > 0) {
        read_response_head();  // a whole head may have come with the FIN
        // Checked in this order: an answered request's exchange is gone.
        if (ex_ == nullptr || state_ != State::kExchange || ex.response_started) return;
        ex.upstream.reset();
        return server_failed(ProxyError::server(ErrorCause::kBadResponse));
    }
    // A reused connection the server closed before our request reached it:
    // once, on a fresh connection, when sending it again is safe.
    const bool retryable = !ex.server_bytes && ex.upstream->reused && ex.request.replayable() &&
                           !ex.fresh_connection_only();
    const ProxyError& closed = ex.last_error.emplace(ProxyError::server(ErrorCause::kServerClosed, retryable));
    ex.upstream.reset();
    if (!closed.retryable) return server_failed(closed);
    LOG_DEBUG("http listener=%s server=%s: reused connection closed; retrying on a new one",
              listener_.config().name.c_str(), ex.server_label.c_str());
    connect_server();
}

// --- upgraded connections -------------------------------------------------------------

void ExchangeDriver::start_tunnel() {
    Exchange& ex = *ex_;
    // An HTTP/1.1 client's upgrade, or an HTTP/2 client's extended CONNECT
    // (RFC 8441), asked for it (request.upgrade).
    if (!client_.send_tunnel_head(ex)) {
        ex.upstream.reset();
        return server_failed(ProxyError::server(ErrorCause::kBadResponse));
    }
    // Counted and logged as the server's 101 whatever the client saw.
    ex.status = 101;
    ex.response_started = true;
    state_ = State::kTunnel;
    set_server_read(ServerRead::kFull);  // the head may have been read small (ServerRead::kSmall)
    listener_.stats().responses[0].fetch_add(1, std::memory_order_relaxed);
    timer_.arm(Timer::kTunnelIdle, listener_.config().idle_timeout_ms);
    pump_tunnel();
}

void ExchangeDriver::pump_tunnel() {
    Exchange& ex = *ex_;
    evbuffer* client_in = client_.request_input();
    evbuffer* client_out = client_.response_output();
    evbuffer* server_in = bufferevent_get_input(ex.upstream->bev.get());
    evbuffer* server_out = bufferevent_get_output(ex.upstream->bev.get());
    bool moved = false;
    auto move = [&](evbuffer* from, evbuffer* to, uint64_t& counter) {
        size_t have = evbuffer_get_length(from);
        size_t queued = evbuffer_get_length(to);
        if (have == 0 || queued >= kBodyHighWater) return;
        size_t n = std::min(have, kBodyHighWater - queued);
        evbuffer_remove_buffer(from, to, n);
        counter += n;
        moved = true;
    };
    move(client_in, server_out, ex.bytes_in);
    move(server_in, client_out, ex.bytes_out);
    // Each side that still has bytes for a full other side is not read until
    // that drains (see hold_server_reads).
    client_.hold_request_reads(evbuffer_get_length(client_in) > 0);
    hold_server_reads(evbuffer_get_length(server_in) > 0);
    if (moved) {
        timer_.progress();
        client_.response_data_added();  // HTTP/2: resumes the stream's DATA
    }
    // Half-close each way once everything before the FIN is delivered.
    if (client_.request_input_ended() && !ex.server_shut && evbuffer_get_length(client_in) == 0 && evbuffer_get_length(server_out) == 0) {
        shutdown(bufferevent_getfd(ex.upstream->bev.get()), SHUT_WR);
        ex.server_shut = true;
    }
    if (ex.server_eof && !ex.client_shut && evbuffer_get_length(server_in) == 0 && evbuffer_get_length(client_out) == 0) {
        client_.shutdown_write();
        ex.client_shut = true;
    }
    if (ex.client_shut && ex.server_shut) client_.abort(Termination::kTunnel);
}

}  // namespace lbd::l7
