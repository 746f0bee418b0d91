// HttpSession, part 1: life cycle, phase 1 (the request head), the
// ClientSide of its exchange (client_side.h: response heads, local answers)
// and the end of the connection. The libevent callbacks are in
// http_session_events.cc, the TLS handshake in http_session_tls.cc; phases
// 2-7 (route, server, the exchange with it) are the ExchangeDriver's
// (exchange_driver.cc, http_exchange.cc).
#include "l7/http_session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/base/log.h"
#include "core/net/local_errors.h"
#include "core/health/passive_health.h"
#include "l7/access_log.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"
#include "l7/route_filter.h"
#include "l7/router.h"
#include "l7/socket_io.h"
#include "l7/tls/tls_context.h"

namespace lbd::l7 {

namespace {

// Client input is read until this much waits unprocessed (or a whole
// request head, if the limit is larger): a client that pipelines or
// uploads faster than the server takes is held back by TCP.
constexpr size_t kReadHighWater = 64 * 1024;
// Output callbacks fire when the buffer is down to this.
constexpr size_t kWriteLowWater = 64 * 1024;

HttpLimits request_limits(const HttpConfig& http) {
    HttpLimits limits;
    limits.max_header_bytes = http.limits.max_header_bytes;
    limits.max_header_count = http.limits.max_header_count;
    limits.max_uri_bytes = http.limits.max_uri_bytes;
    limits.max_body_bytes = http.limits.max_body_bytes;
    return limits;
}

}  // namespace

HttpSession::HttpSession(L7Worker& worker, std::shared_ptr<HttpListener> listener, UniqueFd fd,
                         const SocketAddress& peer)
    : worker_(worker),
      listener_(std::move(listener)),
      http_(listener_->http()),
      request_limits_(request_limits(http_)),
      timer_(worker.base(), &HttpSession::on_timer, this),
      driver_(worker_, *listener_, *this) {
    endpoint_.local_port = listener_->local_port();
    endpoint_.peer = peer;
    client_ = make_client_stream(worker_.base(), std::move(fd), listener_->server_tls());
    endpoint_.scheme = client_.scheme;
}

HttpSession::HttpSession(L7Worker& worker, ParkedClient client)
    : worker_(worker),
      listener_(std::move(client.listener)),
      http_(listener_->http()),
      request_limits_(request_limits(http_)),
      timer_(worker.base(), &HttpSession::on_timer, this),
      resumed_(true),
      driver_(worker_, *listener_, *this) {
    endpoint_.local_port = client.local_port;
    idle_since_ms_ = client.idle_since_ms;
    parked_h2_ = std::move(client.h2);
    endpoint_.peer = client.peer_address();
    client_ = resume_client_stream(worker_.base(), std::move(client.fd), std::move(client.ssl));
    handshake_done_ = true;  // over TLS, before parking
    endpoint_.scheme = client_.scheme;
}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
    bufferevent* bev = client_.bev.get();
    bufferevent_setcb(bev, &HttpSession::on_client_read, &HttpSession::on_client_write, &HttpSession::on_client_event,
                      this);
    bufferevent_setwatermark(bev, EV_READ, 0, std::max<size_t>(kReadHighWater, http_.limits.max_header_bytes + 1));
    bufferevent_setwatermark(bev, EV_WRITE, kWriteLowWater, 0);
    enable_stream(bev);
    if (parked_h2_) return resume_h2();
    if (resumed_) {
        // Between requests, as before parking; read_waiting() reads.
        phase_ = Phase::kIdle;
        arm(Timer::kKeepAlive, http_.timeouts.client_keep_alive_ms);
        if (worker_.draining()) drain();
        else if (worker_.handing_over()) drain_softly();
        return;
    }
    phase_ = Phase::kHead;
    // The first request's head is timed from the accept (or, over TLS, from
    // the handshake, itself timed from the accept): a client that connects
    // and sends nothing (or a byte a minute) is a slowloris.
    if (client_.ssl != nullptr)
        arm(Timer::kHandshake, listener_->config().tls.handshake_timeout_ms);
    else
        arm(Timer::kHeader, http_.timeouts.client_header_ms);
    if (worker_.draining()) drain();
    else if (worker_.handing_over()) drain_softly();
    if (!closed_) read_now(bev);
}

void HttpSession::read_waiting() {
    if (!closed_) read_now(client_.bev.get());
}

void HttpSession::drain() {
    draining_ = true;
    soft_drain_ = false;  // lbd stopping during a handover: no grace any more
    if (h2_) return h2_->drain();
    if (phase_ == Phase::kIdle || (phase_ == Phase::kHead && !head_started_ &&
                                   evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0))
        close(Termination::kOk);  // nothing in flight: a plain FIN
    else
        close_after_ = true;
}

void HttpSession::listener_replaced() {
    if (h2_ && !closed_) drain_softly();
}

void HttpSession::drain_softly() {
    if (draining_) return;
    draining_ = true;
    if (h2_) return h2_->drain();  // GOAWAY: open streams finish, new ones go to a new connection
    soft_drain_ = true;
    if (phase_ == Phase::kIdle)
        arm(Timer::kKeepAlive, worker_.handover_idle_left_ms(idle_since_ms_, http_.timeouts.client_keep_alive_ms));
}

void HttpSession::arm(Timer kind, uint32_t ms) {
    // A request is timed from the start of its head phase.
    if (kind == Timer::kHeader) head_start_ms_ = monotonic_ms();
    timer_.arm(kind, ms);
}

// --- 1. the request head --------------------------------------------------------

void HttpSession::read_request_head() {
    evbuffer* in = bufferevent_get_input(client_.bev.get());
    const size_t available = evbuffer_get_length(in);
    if (available == 0) return;
    head_started_ = true;
    const size_t n = std::min<size_t>(available, http_.limits.max_header_bytes);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
    // h2c with prior knowledge: the preface instead of a first request.
    if (http_.http2.cleartext && !resumed_ && !had_request_ && h2_preface()) return;
    HttpRequestHead& head = worker_.request_head();
    // The parser fills `head` only once the head is complete: an error found
    // earlier (a bad request line, 414) must not log views left by another
    // session's parse, into a buffer that may be gone.
    head.clear();
    HeadParseResult result = parse_request_head(std::string_view(data, n), request_limits_, head, &req_scan_);
    if (result.status == HeadStatus::kIncomplete) return;
    Exchange& ex = begin_exchange();
    listener_->stats().requests.fetch_add(1, std::memory_order_relaxed);
    if (result.status == HeadStatus::kError) {
        // Enough of the head for the log line, when the parser got that far.
        ex.request.method = std::string(head.method_token.substr(0, 32));
        ex.request.path = std::string(head.target.substr(0, 256));
        LOG_DEBUG("http listener=%s client=%s: bad request: %s", listener_->config().name.c_str(),
                  endpoint_.peer.to_string().c_str(), to_string(result.error));
        return respond_error(http_status(result.error), Termination::kBadRequest);
    }
    ex.request = copy_request(head);
    ex.bytes_in = result.consumed;
    evbuffer_drain(in, result.consumed);
    ex.request_body = BodyDecoder(ex.request.framing, ex.request.content_length, request_limits_);
    ex.request_body_done = ex.request_body.done();
    timer_.stop();
    if (http_.limits.max_body_bytes != 0 && ex.request.framing == BodyFraming::kContentLength &&
        ex.request.content_length > http_.limits.max_body_bytes)
        return respond_error(413, Termination::kBadRequest);
    phase_ = Phase::kExchange;
    driver_.start(ex);
}

// --- answers lbd writes itself ----------------------------------------------------

Exchange& HttpSession::begin_exchange() {
    head_started_ = true;
    had_request_ = true;
    return exchange_.emplace(endpoint_, head_start_ms_);
}

template <typename Write>
void HttpSession::send_answer(int status, Termination term, bool close, Write&& write) {
    Exchange& ex = *exchange_;
    ex.release_server();
    // Unread request body bytes would be taken for the next request.
    close = close || !ex.request_body_done || !ex.request.keep_alive || draining_ ||
            (client_eof_ && evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0);
    ex.status = status;
    ex.bytes_out += write(close);
    listener_->stats().responses[static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1)].fetch_add(
        1, std::memory_order_relaxed);
    close_after_ = close;
    finish_request(term);
}

void HttpSession::respond_local(int status, const std::string& content_type, const std::string& body,
                                const HeaderList& extra, Termination term, bool close) {
    send_answer(status, term, close, [&](bool close_now) {
        Exchange& ex = *exchange_;
        HeaderList headers = extra;
        const VariableSource vars = variable_source(ex);
        if (ex.route != nullptr) apply_header_actions(headers, ex.route->response_headers, &vars);
        std::string out = local_response(status, content_type, body, headers, http_.response_headers,
                                         ex.request.method_kind == HttpMethod::kHead, close_now, ex.request.version,
                                         &vars);
        bufferevent_write(client_.bev.get(), out.data(), out.size());
        return out.size();
    });
}

void HttpSession::respond_stored(const LocalAnswer& answer) {
    // Its own fields, its body by reference (no copy of it per hit).
    send_answer(answer.status, answer.term, answer.close, [&](bool close_now) {
        const Exchange& ex = *exchange_;
        const bool head_only = ex.request.method_kind == HttpMethod::kHead;
        const size_t size = answer.shared_body ? answer.shared_body->size() : 0;
        std::string head = stored_response_head(answer.status, answer.stored_lines.get(), answer.headers, size,
                                                close_now, ex.request.version);
        bufferevent_write(client_.bev.get(), head.data(), head.size());
        if (head_only || size == 0) return head.size();
        add_shared_body(bufferevent_get_output(client_.bev.get()), answer.shared_body);
        return head.size() + size;
    });
}

void HttpSession::respond_error(int status, Termination term) {
    // A response already under way cannot be replaced: cut the connection.
    if (exchange_->response_started) return close(term);
    auto [content_type, body] = error_body(http_, status);
    const bool parse_error = term == Termination::kBadRequest || term == Termination::kHeaderTimeout;
    respond_local(status, content_type, body, {}, term, parse_error);
}

// --- the client side of the exchange (client_side.h) ----------------------------

void HttpSession::send_interim(Exchange& ex, const ResponseInfo& interim) {
    // 100 Continue and friends: relayed to an HTTP/1.1 client (RFC 9110
    // §15.2: not to 1.0).
    if (ex.request.version != HttpVersion::k11) return;
    std::string head = serialize_response(interim, ClientFraming::kNone, HttpVersion::k11, false);
    bufferevent_write(client_.bev.get(), head.data(), head.size());
    ex.bytes_out += head.size();
}

void HttpSession::send_response_head(Exchange& ex) {
    // Body stages (body_filter.h) give de-framed bytes: chunked anew.
    ex.framing = ex.body_filters.empty() ? client_framing(ex.response, ex.request.version)
                                         : staged_framing(ex.response, ex.request.version);
    // The Connection header is decided now: an HTTP/1.0 de-chunked or an
    // until-close body ends with the connection; so does an answer that came
    // before the request body ended (the rest of it would be taken for the
    // next request).
    if (ex.framing == ClientFraming::kDechunk || ex.framing == ClientFraming::kUntilClose || !ex.request.keep_alive ||
        !ex.request_body_done || draining_)
        close_after_ = true;
    const bool close = close_after_ || (client_eof_ && evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0);
    std::string& head = head_scratch();
    serialize_response(ex.response, ex.framing, ex.request.version, close, head);
    bufferevent_write(client_.bev.get(), head.data(), head.size());
    ex.bytes_out += head.size();
    ex.status = ex.response.status;
    ex.response_started = true;
    listener_->stats().responses[static_cast<size_t>(std::clamp(ex.status / 100, 1, 5) - 1)].fetch_add(
        1, std::memory_order_relaxed);
}

void HttpSession::response_done(Termination term) {
    // The rest of an unread request body would be taken for the next request.
    if (exchange_ && !exchange_->request_body_done) close_after_ = true;
    finish_request(term);
}

void HttpSession::shutdown_write() { shutdown(bufferevent_getfd(client_.bev.get()), SHUT_WR); }

// --- the end ----------------------------------------------------------------------

void HttpSession::flush() {
    if (!closed_) flush_output(client_.bev.get());
}

void HttpSession::flush_streams() {
    if (closed_) return;
    if (h2_) h2_->flush();  // the streams' own server streams are flushed by their drivers
    flush_output(client_.bev.get());
    driver_.flush_upstream();
}


void HttpSession::wait_idle() {
    const uint32_t keep_alive = http_.timeouts.client_keep_alive_ms;
    if (can_park() && kParkAfterMs < keep_alive) return arm(Timer::kPark, kParkAfterMs);
    arm(Timer::kKeepAlive, keep_alive);
}

bool HttpSession::can_park() const {
    // Between requests there is no exchange, so no server connection or slot.
    return (client_.ssl == nullptr || handshake_done_) && !client_eof_ && !draining_ && !exchange_;
}

void HttpSession::park_idle() {
    // wait_idle() armed the park timer only below the keep-alive timeout.
    const uint32_t left = http_.timeouts.client_keep_alive_ms - kParkAfterMs;
    // Something buffered (a slow reader's response), or an address that does
    // not fit: a session until the keep-alive timeout.
    if (!park(nullptr, left)) arm(Timer::kKeepAlive, left);
}

bool HttpSession::park(std::unique_ptr<H2ParkedState> h2, uint32_t idle_left_ms) {
    bufferevent* bev = client_.bev.get();
    ParkedClient client;
    if (!can_park() || evbuffer_get_length(bufferevent_get_input(bev)) != 0 ||
        evbuffer_get_length(bufferevent_get_output(bev)) != 0 || !client.set_peer(endpoint_.peer))
        return false;
    // HTTP/2 parks right after reading the client's ACK: a record after it
    // would wait in OpenSSL, unseen by the parked read event.
    if (h2 && client_.ssl != nullptr && SSL_pending(client_.ssl) > 0) return false;
    client.h2 = std::move(h2);
    client.listener = listener_;
    client.local_port = endpoint_.local_port;
    client.idle_since_ms = idle_since_ms_;
    client.fd = UniqueFd(bufferevent_getfd(bev));
    // The parked read event first, then ours goes (parked_client.h: no
    // epoll_ctl); the bufferevent no longer closes the socket.
    ParkedClient& parked = worker_.parked().park(std::move(client), idle_left_ms);
    parked.ssl = release_client_ssl(client_);
    // Its record buffers go too (OpenSSL allocates them again for the next
    // record), unless the start of a record waits in them.
    if (parked.ssl && !SSL_free_buffers(parked.ssl.get()))
        LOG_DEBUG("http listener=%s client=%s: parked with a partial TLS record", listener_->config().name.c_str(),
                  endpoint_.peer.to_string().c_str());
    bufferevent_setfd(bev, -1);
    retire();
    return true;
}

void HttpSession::flush_and_close() {
    phase_ = Phase::kClosing;
    bufferevent_disable(client_.bev.get(), EV_READ);
    // Over TLS the alert goes out with the response's last record: one send.
    close_notify(client_);
    if (evbuffer_get_length(bufferevent_get_output(client_.bev.get())) == 0) return close(Termination::kOk);
    arm(Timer::kFlush, http_.timeouts.body_idle_ms);
}

void HttpSession::retire() {
    closed_ = true;
    phase_ = Phase::kClosed;
    timer_.stop();
    if (resume_) event_del(resume_.get());
    worker_.session_ended(this);  // freed from the loop: `this` lives until the callback returns
}

void HttpSession::close(Termination term) {
    if (closed_) return;
    if (h2_) h2_->shutdown(term);  // its exchanges end (and are logged) first
    end_request(term);  // also gives back the server connection and slot
    retire();
    if (term == Termination::kDrain || term == Termination::kServerAbort || term == Termination::kClientAbort) {
        // RST rather than FIN: a truncated response must not look complete.
        int fd = bufferevent_getfd(client_.bev.get());
        linger lin{1, 0};
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    } else if (evbuffer_get_length(bufferevent_get_output(client_.bev.get())) == 0) {
        close_notify(client_);
    }
    client_.bev.reset();
    HttpListenerStats& stats = listener_->stats();
    stats.active.fetch_sub(1, std::memory_order_acq_rel);
    listener_->connection_closed();
}

void HttpSession::log_request(const Exchange& ex, Termination term) {
    if (!worker_.global().log_connections || (ex.route != nullptr && !ex.route->access_log)) return;
    AccessRecord r;
    r.listener = listener_->config().name;
    r.client = endpoint_.peer.to_string();
    r.host = ex.request.host_header;
    r.method = ex.request.method;
    r.path = ex.request.path;
    r.status = ex.status;
    r.bytes_in = ex.bytes_in;
    r.bytes_out = ex.bytes_out;
    r.server = ex.server_label.empty() ? "-" : ex.server_label;
    r.route = ex.route != nullptr && !ex.route->name.empty() ? ex.route->name : "-";
    r.time_ms = static_cast<int64_t>(monotonic_ms() - ex.start_ms);
    r.connect_ms = ex.connect_ms;
    r.conn = ex.connect_ms < 0 ? "-" : ex.reused_connection ? "reused" : "new";
    r.header_ms = ex.header_ms;
    r.term = to_string(term);
    r.reason = ex.reason;
    r.request_id = ex.request_id.view();
    if (ex.cache.status != CacheStatus::kNone) r.cache = to_string(ex.cache.status);
    if (h2_) r.protocol = "h2";
    if (client_.ssl != nullptr) {
        r.tls_version = tls_version_name(client_.ssl);
        r.sni = selected_server_name(client_.ssl);
    }
    std::string line = http_.log_format == HttpLogFormat::kJson ? format_access_json(r) : format_access_text(r);
    LOG_INFO("%s", line.c_str());
}

// --- 7. the end of a request --------------------------------------------------------------

void HttpSession::hold_request_reads(bool hold) {
    if (hold == request_reads_held_) return;
    request_reads_held_ = hold;
    if (hold)
        bufferevent_disable(client_.bev.get(), EV_READ);
    else
        bufferevent_enable(client_.bev.get(), EV_READ);
}

void HttpSession::end_request(Termination term) {
    head_started_ = false;
    hold_request_reads(false);  // the next request, or the client's EOF, is read
    if (!exchange_) return;  // nothing logged for a head cut short
    driver_.stop();
    HttpListenerStats& stats = listener_->stats();
    stats.ended[static_cast<size_t>(term)].fetch_add(1, std::memory_order_relaxed);
    // The answer's end: its duration, and where a kept-alive connection's idle time starts
    // (the handover's idle grace counts from it).
    idle_since_ms_ = monotonic_ms();
    stats.request_duration.observe(idle_since_ms_ - exchange_->start_ms);
    // An HTTP/2 server's trailers reach an HTTP/1 client only in the chunked
    // trailer section of a body relayed as it came (h2_upstream.h).
    const Exchange& ex = *exchange_;
    const bool relayed = ex.request.te_trailers && ex.framing == ClientFraming::kAsIs &&
                         ex.response.framing == BodyFraming::kChunked;
    if (!ex.response_trailers.empty() && !relayed)
        stats.trailers_dropped.fetch_add(1, std::memory_order_relaxed);
    log_request(*exchange_, term);
    // The exchange's copies of the heads go with it (what the last request
    // left would only sit in an idle connection's memory), and so do its
    // server connection and slot.
    exchange_.reset();
}

void HttpSession::finish_request(Termination term) {
    end_request(term);
    evbuffer* in = bufferevent_get_input(client_.bev.get());
    // soft_drain_: the answer said keep-alive, so do not race the next request.
    if (close_after_ || (draining_ && !soft_drain_) || (client_eof_ && evbuffer_get_length(in) == 0))
        return flush_and_close();
    phase_ = Phase::kIdle;
    if (soft_drain_)
        arm(Timer::kKeepAlive, worker_.handover_idle_left_ms(idle_since_ms_, http_.timeouts.client_keep_alive_ms));
    else
        wait_idle();
    // A pipelined request already waiting raises no new read event. The
    // event is made on the first such request: most connections have none.
    if (evbuffer_get_length(in) == 0) return;
    if (!resume_) resume_ = make_event(worker_.base(), -1, 0, &HttpSession::on_resume, this);
    event_active(resume_.get(), EV_TIMEOUT, 0);
}

}  // namespace lbd::l7
