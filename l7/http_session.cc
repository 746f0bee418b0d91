// HttpSession, part 1: life cycle, phases 1-3 (request head, route,
// server), local answers and the end of the connection. The libevent
// callbacks that drive them are in http_session_events.cc, phases 4-7 (the
// exchange with the server) in http_exchange.cc, the TLS handshake in
// http_session_tls.cc.
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
#include "l7/header_filters.h"
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
// An idle keep-alive connection gives up its session after this long
// (parked_client.h). Not at once: a busy client's next request usually comes
// within a millisecond, and would pay for a new session and bufferevent
// (a few percent of throughput); an idle one waits seconds.
constexpr uint32_t kParkAfterMs = 50;

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
    : worker_(worker), listener_(std::move(listener)), http_(listener_->http()), request_limits_(request_limits(http_)) {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0)
        endpoint_.local_port = SocketAddress(reinterpret_cast<sockaddr*>(&local), len).port();
    endpoint_.peer = peer;
    client_ = make_client_stream(worker_.base(), std::move(fd), listener_->server_tls());
    endpoint_.scheme = client_.scheme;
}

HttpSession::HttpSession(L7Worker& worker, ParkedClient client)
    : worker_(worker),
      listener_(std::move(client.listener)),
      http_(listener_->http()),
      request_limits_(request_limits(http_)),
      resumed_(true) {
    endpoint_.local_port = client.local_port;
    endpoint_.peer = client.peer_address();
    client_ = resume_client_stream(worker_.base(), std::move(client.fd), std::move(client.ssl));
    handshake_done_ = true;  // over TLS, before parking
    endpoint_.scheme = client_.scheme;
}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
    timer_ = make_event(worker_.base(), -1, 0, &HttpSession::on_timer, this);
    resume_ = make_event(worker_.base(), -1, 0, &HttpSession::on_resume, this);
    bufferevent* bev = client_.bev.get();
    bufferevent_setcb(bev, &HttpSession::on_client_read, &HttpSession::on_client_write, &HttpSession::on_client_event,
                      this);
    bufferevent_setwatermark(bev, EV_READ, 0, std::max<size_t>(kReadHighWater, http_.limits.max_header_bytes + 1));
    bufferevent_setwatermark(bev, EV_WRITE, kWriteLowWater, 0);
    enable_stream(bev);
    if (resumed_) {
        // Between requests, as before parking; read_waiting() reads.
        phase_ = Phase::kIdle;
        arm(Timer::kKeepAlive, http_.timeouts.client_keep_alive_ms);
        if (worker_.draining()) drain();
        else if (worker_.handing_over()) drain_softly(L7Worker::kHandoverIdleGraceMs);
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
    else if (worker_.handing_over()) drain_softly(L7Worker::kHandoverIdleGraceMs);
    if (!closed_) read_now(bev);
}

void HttpSession::read_waiting() {
    if (!closed_) read_now(client_.bev.get());
}

void HttpSession::drain() {
    draining_ = true;
    soft_drain_grace_ms_ = 0;  // lbd stopping during a handover: no grace any more
    if (phase_ == Phase::kIdle || (phase_ == Phase::kHead && !head_started_ &&
                                   evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0))
        close(Termination::kOk);  // nothing in flight: a plain FIN
    else
        close_after_ = true;
}

void HttpSession::drain_softly(uint32_t grace_ms) {
    if (draining_) return;
    draining_ = true;
    soft_drain_grace_ms_ = grace_ms;
    if (phase_ == Phase::kIdle) arm(Timer::kKeepAlive, grace_ms);
}

void HttpSession::arm(Timer kind, uint32_t ms) {
    // A request is timed from the start of its head phase.
    if (kind == Timer::kHeader) head_start_ms_ = monotonic_ms();
    timer_kind_ = kind;
    timer_ms_ = ms;
    if (kind == Timer::kNone) {
        event_del(timer_.get());
        return;
    }
    progress();
    arm_timer(timer_.get(), ms);
}

// --- 1. the request head --------------------------------------------------------

void HttpSession::read_request_head() {
    evbuffer* in = bufferevent_get_input(client_.bev.get());
    const size_t available = evbuffer_get_length(in);
    if (available == 0) return;
    head_started_ = true;
    const size_t n = std::min<size_t>(available, http_.limits.max_header_bytes);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
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
    arm(Timer::kNone, 0);
    if (http_.limits.max_body_bytes != 0 && ex.request.framing == BodyFraming::kContentLength &&
        ex.request.content_length > http_.limits.max_body_bytes)
        return respond_error(413, Termination::kBadRequest);
    route_request();
}

// --- 2. the route -----------------------------------------------------------------

void HttpSession::route_request() {
    Exchange& ex = *exchange_;
    // A reverse proxy is no CONNECT tunnel (RFC 9110 §9.3.6).
    if (ex.request.target_form == TargetForm::kAuthority) {
        HeaderList allow{{"Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"}};
        return respond_local(405, "text/plain; charset=utf-8", "405 Method Not Allowed\n", allow,
                             Termination::kBadRequest, true);
    }
    // Matched before the filters, which may count or act per route.
    ex.route = match_route(http_, ex.request, &ex.groups);
    assign_request_id(http_, ex);
    run_request_filters();
}

void HttpSession::run_request_filters() {
    Exchange& ex = *exchange_;
    // Rate limits, the router (the pool, or a local answer), request
    // header rewriting (filter.h).
    FilterResult r = listener_->filters().on_request_head(ex);
    if (r.responds()) return respond(r.answer);
    if (r.pauses()) {
        // Nothing more is read from the client meanwhile (on_client_read
        // ignores PAUSED; TCP holds the rest back at the read watermark).
        // The wait counts as the server's response time: 504 past it.
        phase_ = Phase::kPaused;
        return arm(Timer::kResponse, effective_timeouts(http_, ex).server_response_ms);
    }
    ex.sticky.begin(*ex.pool, ex.request);
    choose_server();
}

void HttpSession::resume_request(FilterResult result) {
    FlushOnReturn flush{*this};
    if (closed_ || phase_ != Phase::kPaused || !exchange_) return;
    exchange_->pause.reset();  // once: a second call finds nothing
    phase_ = Phase::kHead;
    arm(Timer::kNone, 0);
    if (result.responds()) return respond(result.answer);
    run_request_filters();
}

// --- 3. the server ------------------------------------------------------------------

void HttpSession::choose_server() {
    Exchange& ex = *exchange_;
    ServerPicker& picker = worker_.picker_for(*ex.pool, listener_->runtime());
    std::shared_ptr<Server> server;
    // A server can fill up between the pick and the slot (other workers).
    for (size_t attempt = 0; attempt <= picker.server_count(); ++attempt) {
        // The server the stickiness cookie names, if usable, else the balancer's.
        server = ex.sticky.pick(picker, endpoint_.peer, ex.tried);
        if (server == nullptr || server->try_acquire_slot()) break;
        ex.tried.push_back(server.get());
        server = nullptr;
    }
    if (server == nullptr)
        return server_failed(ProxyError::server(ex.tried.empty() ? ErrorCause::kNoServer : ErrorCause::kConnectFailed));
    ex.server = std::move(server);
    ex.server_label = ex.pool->name() + "/" + ex.server->name();
    connect_server();
}

void HttpSession::connect_server() {
    Exchange& ex = *exchange_;
    phase_ = Phase::kConnecting;
    ex.server_bytes = false;
    ex.server_eof = false;
    const std::shared_ptr<const TlsClientContext>& tls = listener_->pool_tls(ex.pool->name());
    if (!ex.fresh_connection_only() && http_.max_idle_per_server != 0) ex.upstream = worker_.upstreams().take(ex.server.get());
    if (ex.upstream && ex.upstream->tls != tls) ex.upstream.reset();  // made before a reload changed the pool's tls
    if (ex.upstream) {
        bufferevent_setcb(ex.upstream->bev.get(), &HttpSession::on_server_read, &HttpSession::on_server_write,
                          &HttpSession::on_server_event, this);
        ex.connect_ms = 0;
        ex.reused_connection = true;
        return send_request();
    }
    ex.reused_connection = false;
    ex.upstream = std::make_unique<UpstreamConn>();
    ex.upstream->server = ex.server;
    ex.upstream->tls = tls;
    // Over TLS the server is checked against the pool's server_name or, if
    // none, its address (an IP: against the certificate's IP SANs).
    const bool by_address = tls != nullptr && ex.pool->config().tls.context.server_name.empty();
    ex.upstream->bev =
        make_server_stream(worker_.base(), tls.get(), by_address ? ex.server->address().ip_string() : "");
    // No SSL or bufferevent: lbd's own memory, never the server's fault.
    if (!ex.upstream->bev) return local_connect_failure(ENOMEM);
    bufferevent* bev = ex.upstream->bev.get();
    bufferevent_setcb(bev, &HttpSession::on_server_read, &HttpSession::on_server_write, &HttpSession::on_server_event,
                      this);
    ex.connect_start_ms = monotonic_ms();
    // bufferevent_socket_connect takes a non-const sockaddr.
    SocketAddress copy = ex.server->address();
    const bool started = bufferevent_socket_connect(bev, copy.sockaddr_ptr(), static_cast<int>(copy.length())) == 0;
    // Only connects that reached the network count as the server's: a local
    // shortage (no descriptor, no port) never left this host.
    if (!started && local_cause(errno)) return local_connect_failure(errno);
    ex.server->counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    if (!started) return connect_failed(strerror(errno));
    use_large_io(bev);
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const uint32_t route_connect_ms = effective_timeouts(http_, ex).server_connect_ms;
    uint32_t timeout = route_connect_ms != 0 ? route_connect_ms : ex.pool->config().connect_timeout_ms;
    arm(Timer::kConnect, timeout);
}

void HttpSession::connect_failed(const char* why) {
    Exchange& ex = *exchange_;
    ex.upstream.reset();
    std::shared_ptr<Server> server = std::move(ex.server);
    ex.server = nullptr;
    server->release_slot();
    server->counters.connect_failures.fetch_add(1, std::memory_order_relaxed);
    ex.tried.push_back(server.get());
    LOG_DEBUG("pool %s: connect to %s failed: %s", ex.pool->name().c_str(), server->name().c_str(), why);
    if (passive_connect_failure(*server, ex.pool->config(), why))
        worker_.schedule_revive(server, ex.pool->config().passive_health.ejection_ms);
    // Nothing reached the server: another one may take the request, up to
    // the pool's retries.
    const ProxyError& error = ex.last_error.emplace(
        ProxyError::server(ErrorCause::kConnectFailed, ex.tried.size() <= ex.pool->config().retries));
    if (!error.retryable) return server_failed(error);
    choose_server();
}

void HttpSession::local_connect_failure(int err) {
    Exchange& ex = *exchange_;
    uint64_t unlogged = 0;
    if (count_local_error(LocalWhere::kL7Connect, *local_cause(err), &unlogged)) {
        LOG_WARN("pool %s: cannot connect to %s: %s (lbd's own shortage, not the server's: answering 503; "
                 "%llu more not logged)",
                 ex.pool->name().c_str(), ex.server->name().c_str(), strerror(err),
                 static_cast<unsigned long long>(unlogged));
    }
    // The server is not blamed: no connect failure counted, no passive ejection, no retry elsewhere.
    ex.release_server();
    server_failed(ex.last_error.emplace(ProxyError::local(ErrorCause::kLocalShortage)));
}

// --- answers lbd writes itself ----------------------------------------------------

Exchange& HttpSession::begin_exchange() {
    head_started_ = true;
    Exchange& ex = exchange_.emplace(endpoint_, head_start_ms_);
    ex.driver = this;
    return ex;
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

void HttpSession::respond(const LocalAnswer& answer) {
    if (!answer.reason.empty()) exchange_->reason = answer.reason;
    if (!answer.as_stored)
        return respond_local(answer.status, answer.content_type, answer.body, answer.headers, answer.term,
                             answer.close);
    // A stored response: its own fields, its body by reference (no copy of it per hit).
    send_answer(answer.status, answer.term, answer.close, [&](bool close_now) {
        const Exchange& ex = *exchange_;
        const bool head_only = ex.request.method_kind == HttpMethod::kHead;
        const size_t size = answer.shared_body ? answer.shared_body->size() : 0;
        std::string head = stored_response_head(answer.status, answer.headers, size, close_now, ex.request.version);
        bufferevent_write(client_.bev.get(), head.data(), head.size());
        if (head_only || size == 0) return head.size();
        auto* owner = new std::shared_ptr<const std::string>(answer.shared_body);
        evbuffer_add_reference(
            bufferevent_get_output(client_.bev.get()), (*owner)->data(), size,
            [](const void*, size_t, void* arg) { delete static_cast<std::shared_ptr<const std::string>*>(arg); },
            owner);
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

// --- the end ----------------------------------------------------------------------

void HttpSession::flush_streams() {
    if (closed_) return;
    flush_output(client_.bev.get());
    if (exchange_ && exchange_->upstream) flush_output(exchange_->upstream->bev.get());
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
    bufferevent* bev = client_.bev.get();
    ParkedClient client;
    // Something buffered (a slow reader's response), or an address that does
    // not fit: a session until the keep-alive timeout.
    if (!can_park() || evbuffer_get_length(bufferevent_get_input(bev)) != 0 ||
        evbuffer_get_length(bufferevent_get_output(bev)) != 0 || !client.set_peer(endpoint_.peer))
        return arm(Timer::kKeepAlive, left);
    client.listener = listener_;
    client.local_port = endpoint_.local_port;
    client.fd = UniqueFd(bufferevent_getfd(bev));
    // The parked read event first, then ours goes (parked_client.h: no
    // epoll_ctl); the bufferevent no longer closes the socket.
    ParkedClient& parked = worker_.parked().park(std::move(client), left);
    parked.ssl = release_client_ssl(client_);
    // Its record buffers go too (OpenSSL allocates them again for the next
    // record), unless the start of a record waits in them.
    if (parked.ssl && !SSL_free_buffers(parked.ssl.get()))
        LOG_DEBUG("http listener=%s client=%s: parked with a partial TLS record", listener_->config().name.c_str(),
                  endpoint_.peer.to_string().c_str());
    bufferevent_setfd(bev, -1);
    retire();
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
    event_del(timer_.get());
    event_del(resume_.get());
    worker_.session_ended(this);  // freed from the loop: `this` lives until the callback returns
}

void HttpSession::close(Termination term) {
    if (closed_) return;
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
    if (client_.ssl != nullptr) {
        r.tls_version = tls_version_name(client_.ssl);
        r.sni = selected_server_name(client_.ssl);
    }
    std::string line = http_.log_format == HttpLogFormat::kJson ? format_access_json(r) : format_access_text(r);
    LOG_INFO("%s", line.c_str());
}

}  // namespace lbd::l7
