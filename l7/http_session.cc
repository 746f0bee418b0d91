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
#include "l7/http_listener.h"
#include "l7/l7_worker.h"
#include "l7/rate_limit.h"
#include "l7/router.h"
#include "l7/socket_io.h"
#include "l7/tls/tls_context.h"
#include "l7/weighted_split.h"

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
    if (!closed_) read_now(bev);
}

void HttpSession::read_waiting() {
    if (!closed_) read_now(client_.bev.get());
}

void HttpSession::drain() {
    draining_ = true;
    if (phase_ == Phase::kIdle || (phase_ == Phase::kHead && !in_request_ &&
                                   evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0))
        close(Termination::kOk);  // nothing in flight: a plain FIN
    else
        close_after_ = true;
}

void HttpSession::arm(Timer kind, uint32_t ms) {
    // A request is timed from the start of its head phase.
    if (kind == Timer::kHeader) request_start_ms_ = monotonic_ms();
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
    in_request_ = true;
    const size_t n = std::min<size_t>(available, http_.limits.max_header_bytes);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
    HttpRequestHead& head = worker_.request_head();
    // The parser fills `head` only once the head is complete: an error found
    // earlier (a bad request line, 414) must not log views left by another
    // session's parse, into a buffer that may be gone.
    head.clear();
    HeadParseResult result = parse_request_head(std::string_view(data, n), request_limits_, head, &req_scan_);
    if (result.status == HeadStatus::kIncomplete) return;
    loggable_ = true;
    listener_->stats().requests.fetch_add(1, std::memory_order_relaxed);
    if (result.status == HeadStatus::kError) {
        // Enough of the head for the log line, when the parser got that far.
        request_.method = std::string(head.method_token.substr(0, 32));
        request_.path = std::string(head.target.substr(0, 256));
        LOG_DEBUG("http listener=%s client=%s: bad request: %s", listener_->config().name.c_str(),
                  endpoint_.peer.to_string().c_str(), to_string(result.error));
        return respond_error(http_status(result.error), Termination::kBadRequest);
    }
    request_ = copy_request(head);
    bytes_in_ = result.consumed;
    evbuffer_drain(in, result.consumed);
    req_body_ = BodyDecoder(request_.framing, request_.content_length, request_limits_);
    req_body_done_ = req_body_.done();
    arm(Timer::kNone, 0);
    if (http_.limits.max_body_bytes != 0 && request_.framing == BodyFraming::kContentLength &&
        request_.content_length > http_.limits.max_body_bytes)
        return respond_error(413, Termination::kBadRequest);
    route_request();
}

// --- 2. the route -----------------------------------------------------------------

void HttpSession::route_request() {
    // A reverse proxy is no CONNECT tunnel (RFC 9110 §9.3.6).
    if (request_.target_form == TargetForm::kAuthority) {
        HeaderList allow{{"Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"}};
        return respond_local(405, "text/plain; charset=utf-8", "405 Method Not Allowed\n", allow,
                             Termination::kBadRequest, true);
    }
    route_ = match_route(http_, request_);
    if (auto refused = listener_->rate_limits().check(route_, request_, endpoint_.peer)) {
        HeaderList retry_after{{"Retry-After", std::to_string(refused->retry_after_s)}};
        const int status = refused->zone->config().status;
        auto [content_type, body] = error_body(http_, status);
        return respond_local(status, content_type, body, retry_after, Termination::kRateLimited, false);
    }
    if (route_ != nullptr) {
        switch (route_->action) {
            case HttpRouteAction::kRedirect: {
                HeaderList location{{"Location", redirect_location(route_->redirect, request_, endpoint_.scheme)}};
                HeaderList extra = location;
                std::string body = std::to_string(route_->redirect.status) + " " +
                                   reason_phrase(route_->redirect.status) + "\n";
                return respond_local(route_->redirect.status, "text/plain; charset=utf-8", body, extra,
                                     Termination::kLocal, false);
            }
            case HttpRouteAction::kRespond:
                return respond_local(route_->respond.status, route_->respond.content_type, route_->respond.body, {},
                                     Termination::kLocal, false);
            case HttpRouteAction::kPool: pool_ = listener_->pool(route_->pool); break;
            case HttpRouteAction::kSplit:
                pool_ = choose_split_pool(listener_->split(*route_), *listener_, worker_, request_);
                break;
        }
        rewrite_path(*route_, request_);
    } else {
        pool_ = listener_->default_pool();
    }
    if (pool_ == nullptr) return respond_error(404, Termination::kNoRoute);

    add_forwarding_headers(request_, http_.forwarded, endpoint_);
    if (route_ != nullptr) apply_header_actions(request_.headers, route_->request_headers);
    apply_header_actions(request_.headers, http_.request_headers);
    tried_.clear();
    sticky_.begin(*pool_, request_);
    choose_server();
}

// --- 3. the server ------------------------------------------------------------------

void HttpSession::choose_server() {
    ServerPicker& picker = worker_.picker_for(*pool_, listener_->runtime());
    std::shared_ptr<Server> server;
    // A server can fill up between the pick and the slot (other workers).
    for (size_t attempt = 0; attempt <= picker.server_count(); ++attempt) {
        // The server the stickiness cookie names, if usable, else the balancer's.
        server = sticky_.pick(picker, endpoint_.peer, tried_);
        if (server == nullptr || server->try_acquire_slot()) break;
        tried_.push_back(server.get());
        server = nullptr;
    }
    if (server == nullptr)
        return respond_error(503, tried_.empty() ? Termination::kNoServer : Termination::kConnectFailed);
    server_ = std::move(server);
    server_label_ = pool_->name() + "/" + server_->name();
    fresh_only_ = false;
    connect_server();
}

void HttpSession::connect_server() {
    phase_ = Phase::kConnecting;
    server_bytes_ = false;
    server_eof_ = false;
    const std::shared_ptr<const TlsClientContext>& tls = listener_->pool_tls(pool_->name());
    if (!fresh_only_ && http_.max_idle_per_server != 0) upstream_ = worker_.upstreams().take(server_.get());
    if (upstream_ && upstream_->tls != tls) upstream_.reset();  // made before a reload changed the pool's tls
    if (upstream_) {
        bufferevent_setcb(upstream_->bev.get(), &HttpSession::on_server_read, &HttpSession::on_server_write,
                          &HttpSession::on_server_event, this);
        connect_ms_ = 0;
        return send_request();
    }
    upstream_ = std::make_unique<UpstreamConn>();
    upstream_->server = server_;
    upstream_->tls = tls;
    // Over TLS the server is checked against the pool's server_name or, if
    // none, its address (an IP: against the certificate's IP SANs).
    const bool by_address = tls != nullptr && pool_->config().tls.context.server_name.empty();
    upstream_->bev = make_server_stream(worker_.base(), tls.get(), by_address ? server_->address().ip_string() : "");
    if (!upstream_->bev) return connect_failed("tls: cannot make an SSL (out of memory)");
    bufferevent* bev = upstream_->bev.get();
    bufferevent_setcb(bev, &HttpSession::on_server_read, &HttpSession::on_server_write, &HttpSession::on_server_event,
                      this);
    server_->counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    connect_start_ms_ = monotonic_ms();
    const SocketAddress& addr = server_->address();
    // bufferevent_socket_connect takes a non-const sockaddr.
    SocketAddress copy = addr;
    if (bufferevent_socket_connect(bev, copy.sockaddr_ptr(), static_cast<int>(copy.length())) != 0) {
        if (local_cause(errno)) return local_connect_failure(errno);
        return connect_failed(strerror(errno));
    }
    use_large_io(bev);
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint32_t timeout = http_.timeouts.server_connect_ms != 0 ? http_.timeouts.server_connect_ms
                                                            : pool_->config().connect_timeout_ms;
    arm(Timer::kConnect, timeout);
}

void HttpSession::connect_failed(const char* why) {
    upstream_.reset();
    std::shared_ptr<Server> server = std::move(server_);
    server_ = nullptr;
    server->release_slot();
    server->counters.connect_failures.fetch_add(1, std::memory_order_relaxed);
    tried_.push_back(server.get());
    LOG_DEBUG("pool %s: connect to %s failed: %s", pool_->name().c_str(), server->name().c_str(), why);
    if (passive_connect_failure(*server, pool_->config(), why))
        worker_.schedule_revive(server, pool_->config().passive_health.ejection_ms);
    if (tried_.size() > pool_->config().retries) return respond_error(503, Termination::kConnectFailed);
    choose_server();
}

void HttpSession::local_connect_failure(int err) {
    uint64_t unlogged = 0;
    if (count_local_error(LocalWhere::kL7Connect, *local_cause(err), &unlogged)) {
        LOG_WARN("pool %s: cannot connect to %s: %s (lbd's own shortage, not the server's: answering 503; "
                 "%llu more not logged)",
                 pool_->name().c_str(), server_->name().c_str(), strerror(err),
                 static_cast<unsigned long long>(unlogged));
    }
    release_server();
    respond_error(503, Termination::kLocalError);
}

void HttpSession::release_server() {
    upstream_.reset();
    if (server_ != nullptr) {
        server_->release_slot();
        server_ = nullptr;
    }
}

// --- answers lbd writes itself ----------------------------------------------------

void HttpSession::respond_local(int status, const std::string& content_type, const std::string& body,
                                const HeaderList& extra, Termination term, bool close) {
    release_server();
    // Unread request body bytes would be taken for the next request.
    close = close || !req_body_done_ || !request_.keep_alive || draining_ ||
            (client_eof_ && evbuffer_get_length(bufferevent_get_input(client_.bev.get())) == 0);
    status_ = status;
    HeaderList headers = extra;
    if (route_ != nullptr) apply_header_actions(headers, route_->response_headers);
    std::string out = local_response(status, content_type, body, headers, http_.response_headers,
                                     request_.method_kind == HttpMethod::kHead, close, request_.version);
    bytes_out_ += out.size();
    bufferevent_write(client_.bev.get(), out.data(), out.size());
    listener_->stats().responses[static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1)].fetch_add(
        1, std::memory_order_relaxed);
    close_after_ = close;
    finish_request(term);
}

void HttpSession::respond_error(int status, Termination term) {
    // A response already under way cannot be replaced: cut the connection.
    if (resp_started_) return close(term);
    auto [content_type, body] = error_body(http_, status);
    const bool parse_error = term == Termination::kBadRequest || term == Termination::kHeaderTimeout;
    respond_local(status, content_type, body, {}, term, parse_error);
}

// --- the end ----------------------------------------------------------------------

void HttpSession::flush_streams() {
    if (closed_) return;
    flush_output(client_.bev.get());
    if (upstream_) flush_output(upstream_->bev.get());
}

void HttpSession::wait_idle() {
    const uint32_t keep_alive = http_.timeouts.client_keep_alive_ms;
    if (can_park() && kParkAfterMs < keep_alive) return arm(Timer::kPark, kParkAfterMs);
    arm(Timer::kKeepAlive, keep_alive);
}

bool HttpSession::can_park() const {
    return (client_.ssl == nullptr || handshake_done_) && !client_eof_ && !draining_ && !upstream_ &&
           server_ == nullptr;
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
    end_request(term);
    retire();
    release_server();
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

void HttpSession::log_request(Termination term) {
    if (!worker_.global().log_connections) return;
    AccessRecord r;
    r.listener = listener_->config().name;
    r.client = endpoint_.peer.to_string();
    r.host = request_.host_header;
    r.method = request_.method;
    r.path = request_.path;
    r.status = status_;
    r.bytes_in = bytes_in_;
    r.bytes_out = bytes_out_;
    r.server = server_label_.empty() ? "-" : server_label_;
    r.route = route_ != nullptr && !route_->name.empty() ? route_->name : "-";
    r.time_ms = static_cast<int64_t>(monotonic_ms() - request_start_ms_);
    r.connect_ms = connect_ms_;
    r.header_ms = header_ms_;
    r.term = to_string(term);
    if (client_.ssl != nullptr) {
        r.tls_version = tls_version_name(client_.ssl);
        r.sni = selected_server_name(client_.ssl);
    }
    std::string line = http_.log_format == HttpLogFormat::kJson ? format_access_json(r) : format_access_text(r);
    LOG_INFO("%s", line.c_str());
}

}  // namespace lbd::l7
