// HttpSession, part 2: the exchange with the server (phases 4-7), body
// streaming with back-pressure, and upgraded tunnels.
#include <sys/socket.h>

#include <algorithm>

#include "core/base/log.h"
#include "core/health/passive_health.h"
#include "l7/http_listener.h"
#include "l7/http_session.h"
#include "l7/l7_worker.h"
#include "l7/socket_io.h"

namespace lbd::l7 {

namespace {

// Data moves into an output buffer only while it holds less than this.
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kServerReadHighWater = 64 * 1024 + 1;
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

// --- 4. the request to the server ------------------------------------------------

void HttpSession::send_request() {
    phase_ = Phase::kExchange;
    bufferevent* bev = upstream_->bev.get();
    bufferevent_setwatermark(bev, EV_READ, 0, kServerReadHighWater);
    bufferevent_setwatermark(bev, EV_WRITE, kWriteLowWater, 0);
    enable_stream(bev);
    std::string head = serialize_request(request_);
    bufferevent_write(bev, head.data(), head.size());
    server_->counters.bytes_to_server.fetch_add(head.size(), std::memory_order_relaxed);
    request_sent_ms_ = monotonic_ms();
    resp_started_ = false;
    resp_done_ = false;
    resp_scan_ = HeadScanState{};
    if (req_body_done_) return arm(Timer::kResponse, http_.timeouts.server_response_ms);
    arm(Timer::kBodyIdle, http_.timeouts.body_idle_ms);
    pump_request_body();
}

void HttpSession::pump_request_body() {
    if (!upstream_) return;
    evbuffer* in = bufferevent_get_input(client_.bev.get());
    evbuffer* out = bufferevent_get_output(upstream_->bev.get());
    bool moved = false;
    while (!req_body_done_ && evbuffer_get_length(out) < kHighWater) {
        std::string_view piece = first_piece(in);
        if (piece.empty()) break;
        BodyResult r = req_body_.decode(piece);
        if (r.status == BodyStatus::kError) {
            upstream_.reset();  // it has part of a request: useless
            return respond_error(http_status(r.error), Termination::kBadRequest);
        }
        // The framing goes on as it came (the decoder has checked it).
        evbuffer_remove_buffer(in, out, r.consumed);
        bytes_in_ += r.consumed;
        server_->counters.bytes_to_server.fetch_add(r.consumed, std::memory_order_relaxed);
        moved = true;
        if (r.status == BodyStatus::kDone) req_body_done_ = true;
    }
    if (moved) progress();
    if (req_body_done_) {
        if (!resp_started_) arm(Timer::kResponse, http_.timeouts.server_response_ms);
    } else if (client_eof_ && evbuffer_get_length(in) == 0) {
        close(Termination::kClientAbort);
    }
}

// --- 5. the response head -----------------------------------------------------------

void HttpSession::read_response_head() {
    evbuffer* in = bufferevent_get_input(upstream_->bev.get());
    static const HttpLimits limits = response_limits();
    HttpResponseHead& head = worker_.response_head();
    for (;;) {
        const size_t available = evbuffer_get_length(in);
        if (available == 0) return;
        const size_t n = std::min(available, kMaxResponseHead);
        const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
        HeadParseResult r = parse_response_head(std::string_view(data, n), request_.method_kind, limits, head,
                                                &resp_scan_);
        if (r.status == HeadStatus::kIncomplete) return;
        if (r.status == HeadStatus::kError) {
            LOG_DEBUG("http listener=%s server=%s: bad response: %s", listener_->config().name.c_str(),
                      server_label_.c_str(), to_string(r.error));
            upstream_.reset();
            return respond_error(502, Termination::kBadResponse);
        }
        if (header_ms_ < 0) header_ms_ = static_cast<int64_t>(monotonic_ms() - request_sent_ms_);
        ResponseInfo info = copy_response(head);
        BodyDecoder decoder(head, limits);
        evbuffer_drain(in, r.consumed);
        server_->counters.bytes_from_server.fetch_add(r.consumed, std::memory_order_relaxed);
        if (info.interim()) {
            // 100 Continue and friends: relayed to an HTTP/1.1 client (RFC
            // 9110 §15.2: not to 1.0), then the final head follows.
            if (request_.version == HttpVersion::k11) {
                std::string head = serialize_response(info, ClientFraming::kNone, HttpVersion::k11, false);
                bufferevent_write(client_.bev.get(), head.data(), head.size());
                bytes_out_ += head.size();
            }
            continue;
        }
        response_ = std::move(info);
        resp_body_ = decoder;
        if (passive_response_status(*server_, pool_->config(), response_.status))
            worker_.schedule_revive(server_, pool_->config().passive_health.ejection_ms);
        return start_response();
    }
}

void HttpSession::start_response() {
    if (response_.status == 101) {
        if (!request_.upgrade) {  // switching protocols nobody asked for
            upstream_.reset();
            return respond_error(502, Termination::kBadResponse);
        }
        return start_tunnel();
    }
    HeaderList& headers = response_.headers;
    sticky_.on_response(*server_, headers);
    if (http_.hide_server_headers) {
        remove_header(headers, "server");
        remove_header(headers, "x-powered-by");
    }
    if (route_ != nullptr) apply_header_actions(headers, route_->response_headers);
    apply_header_actions(headers, http_.response_headers);
    if (http_.forwarded.via) {
        const std::string* via = find_header(headers, "via");
        std::string value = (via != nullptr ? *via + ", " : std::string()) + "1.1 lbd";
        set_header(headers, "Via", value);
    }
    framing_ = client_framing(response_, request_.version);
    // The Connection header is decided now: an HTTP/1.0 de-chunked or an
    // until-close body ends with the connection; so does an answer that came
    // before the request body ended (the rest of it would be taken for the
    // next request).
    if (framing_ == ClientFraming::kDechunk || framing_ == ClientFraming::kUntilClose || !request_.keep_alive ||
        !req_body_done_ || draining_)
        close_after_ = true;
    const bool close = close_after_ || (client_eof_ && evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0);
    std::string head = serialize_response(response_, framing_, request_.version, close);
    bufferevent_write(client_.bev.get(), head.data(), head.size());
    bytes_out_ += head.size();
    status_ = response_.status;
    resp_started_ = true;
    listener_->stats().responses[static_cast<size_t>(std::clamp(status_ / 100, 1, 5) - 1)].fetch_add(
        1, std::memory_order_relaxed);
    arm(Timer::kBodyIdle, http_.timeouts.body_idle_ms);
    pump_response_body();
}

// --- 6. the response body -------------------------------------------------------------

void HttpSession::pump_response_body() {
    if (!upstream_ || resp_done_) return;
    evbuffer* in = bufferevent_get_input(upstream_->bev.get());
    evbuffer* out = bufferevent_get_output(client_.bev.get());
    bool moved = false;
    while (!resp_body_.done() && evbuffer_get_length(out) < kHighWater) {
        std::string_view piece = first_piece(in);
        if (piece.empty()) break;
        BodyResult r = resp_body_.decode(piece);
        if (r.status == BodyStatus::kError) {
            LOG_DEBUG("http listener=%s server=%s: bad response body: %s", listener_->config().name.c_str(),
                      server_label_.c_str(), to_string(r.error));
            return close(Termination::kBadResponse);
        }
        if (framing_ == ClientFraming::kDechunk) {
            evbuffer_add(out, r.data.data(), r.data.size());
            evbuffer_drain(in, r.consumed);
            bytes_out_ += r.data.size();
        } else {
            evbuffer_remove_buffer(in, out, r.consumed);
            bytes_out_ += r.consumed;
        }
        server_->counters.bytes_from_server.fetch_add(r.consumed, std::memory_order_relaxed);
        moved = true;
    }
    if (moved) progress();
    if (!resp_body_.done() && server_eof_ && evbuffer_get_length(in) == 0) {
        // Until-close bodies end here; any other is truncated.
        if (resp_body_.finish().status != BodyStatus::kDone) return close(Termination::kServerAbort);
    }
    if (resp_body_.done()) response_complete();
}

void HttpSession::response_complete() {
    resp_done_ = true;
    arm(Timer::kNone, 0);
    if (!req_body_done_) close_after_ = true;
    bufferevent* bev = upstream_->bev.get();
    const bool reusable = response_.keep_alive && req_body_done_ && !server_eof_ && http_.max_idle_per_server != 0 &&
                          !draining_ && evbuffer_get_length(bufferevent_get_input(bev)) == 0 &&
                          evbuffer_get_length(bufferevent_get_output(bev)) == 0;
    if (reusable)
        worker_.upstreams().put(std::move(upstream_), http_.max_idle_per_server, http_.timeouts.server_idle_ms);
    release_server();
    finish_request(Termination::kOk);
}

void HttpSession::server_closed(bool error) {
    server_eof_ = true;
    if (phase_ == Phase::kTunnel) return error ? close(Termination::kTunnel) : pump_tunnel();
    if (phase_ != Phase::kExchange) return;
    if (resp_started_) return error ? close(Termination::kServerAbort) : pump_response_body();
    evbuffer* in = bufferevent_get_input(upstream_->bev.get());
    if (!error && evbuffer_get_length(in) > 0) {
        read_response_head();  // a whole head may have come with the FIN
        if (closed_ || resp_started_ || phase_ != Phase::kExchange) return;
        upstream_.reset();
        return respond_error(502, Termination::kBadResponse);
    }
    // A reused connection the server closed before our request reached it:
    // once, on a fresh connection, when sending it again is safe.
    if (!server_bytes_ && upstream_->reused && request_.replayable() && !fresh_only_) {
        LOG_DEBUG("http listener=%s server=%s: reused connection closed; retrying on a new one",
                  listener_->config().name.c_str(), server_label_.c_str());
        upstream_.reset();
        fresh_only_ = true;
        return connect_server();
    }
    upstream_.reset();
    respond_error(502, Termination::kServerAbort);
}

// --- upgraded connections -------------------------------------------------------------

void HttpSession::start_tunnel() {
    std::string head = serialize_response(response_, ClientFraming::kNone, HttpVersion::k11, false);
    bufferevent_write(client_.bev.get(), head.data(), head.size());
    bytes_out_ += head.size();
    status_ = 101;
    resp_started_ = true;
    phase_ = Phase::kTunnel;
    listener_->stats().responses[0].fetch_add(1, std::memory_order_relaxed);
    arm(Timer::kTunnelIdle, listener_->config().idle_timeout_ms);
    pump_tunnel();
}

void HttpSession::pump_tunnel() {
    evbuffer* client_in = bufferevent_get_input(client_.bev.get());
    evbuffer* client_out = bufferevent_get_output(client_.bev.get());
    evbuffer* server_in = bufferevent_get_input(upstream_->bev.get());
    evbuffer* server_out = bufferevent_get_output(upstream_->bev.get());
    bool moved = false;
    auto move = [&](evbuffer* from, evbuffer* to, uint64_t& counter) {
        size_t have = evbuffer_get_length(from);
        size_t queued = evbuffer_get_length(to);
        if (have == 0 || queued >= kHighWater) return;
        size_t n = std::min(have, kHighWater - queued);
        evbuffer_remove_buffer(from, to, n);
        counter += n;
        moved = true;
    };
    move(client_in, server_out, bytes_in_);
    move(server_in, client_out, bytes_out_);
    if (moved) progress();
    // Half-close each way once everything before the FIN is delivered.
    if (client_eof_ && !server_shut_ && evbuffer_get_length(client_in) == 0 && evbuffer_get_length(server_out) == 0) {
        shutdown(bufferevent_getfd(upstream_->bev.get()), SHUT_WR);
        server_shut_ = true;
    }
    if (server_eof_ && !client_shut_ && evbuffer_get_length(server_in) == 0 && evbuffer_get_length(client_out) == 0) {
        shutdown(bufferevent_getfd(client_.bev.get()), SHUT_WR);
        client_shut_ = true;
    }
    if (client_shut_ && server_shut_) close(Termination::kTunnel);
}

// --- 7. the end of a request --------------------------------------------------------------

void HttpSession::end_request(Termination term) {
    if (!in_request_) return;
    in_request_ = false;
    HttpListenerStats& stats = listener_->stats();
    if (loggable_) {
        stats.ended[static_cast<size_t>(term)].fetch_add(1, std::memory_order_relaxed);
        stats.request_duration.observe(monotonic_ms() - request_start_ms_);
        log_request(term);
    }
    // Each request gets fresh copies (copy_request/copy_response): what the
    // last one left would only sit in an idle connection's memory.
    request_ = RequestInfo{};
    response_ = ResponseInfo{};
    route_ = nullptr;
    pool_ = nullptr;
    tried_.clear();
    server_label_.clear();
    status_ = 0;
    bytes_in_ = bytes_out_ = 0;
    connect_ms_ = header_ms_ = -1;
    resp_started_ = resp_done_ = false;
    req_body_done_ = true;
    loggable_ = false;
}

void HttpSession::finish_request(Termination term) {
    end_request(term);
    evbuffer* in = bufferevent_get_input(client_.bev.get());
    if (close_after_ || draining_ || (client_eof_ && evbuffer_get_length(in) == 0)) return flush_and_close();
    phase_ = Phase::kIdle;
    wait_idle();
    // A pipelined request already waiting raises no new read event.
    if (evbuffer_get_length(in) > 0) event_active(resume_.get(), EV_TIMEOUT, 0);
}

}  // namespace lbd::l7
