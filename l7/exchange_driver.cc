// ExchangeDriver, part 1: phases 2-3 (the request filters, the server, the
// connect and its retries), the server-side callbacks and the timer. Phases
// 4-7 (the request and response with the server, tunnels) are in
// http_exchange.cc.
#include "l7/exchange_driver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/base/log.h"
#include "core/http1/path.h"
#include "core/health/passive_health.h"
#include "core/net/local_errors.h"
#include "l7/header_filters.h"
#include "l7/http_listener.h"
#include "l7/l7_worker.h"
#include "l7/route_filter.h"
#include "l7/router.h"
#include "l7/socket_io.h"
#include "l7/transport.h"

namespace lbd::l7 {

ExchangeDriver::ExchangeDriver(L7Worker& worker, HttpListener& listener, ClientSide& client)
    : worker_(worker),
      listener_(listener),
      http_(listener.http()),
      client_(client),
      timer_(worker.base(), &ExchangeDriver::on_timer, this) {}

void ExchangeDriver::start(Exchange& ex) {
    ex_ = &ex;
    ex.driver = this;  // a filter's pause resumes here (filter_result.h)
    state_ = State::kRouting;
    route_request();
}

void ExchangeDriver::stop() {
    end_splice();
    ex_ = nullptr;
    server_reads_held_ = false;
    server_read_ = ServerRead::kFull;
    state_ = State::kIdle;
    timer_.stop();
}

void ExchangeDriver::flush_upstream() {
    if (ex_ != nullptr && ex_->upstream) flush_output(ex_->upstream->bev.get());
}

ExchangeDriver::FlushOnReturn::~FlushOnReturn() {
    driver.client_.flush();
    driver.flush_upstream();
}

// --- 2. the route -----------------------------------------------------------------

void ExchangeDriver::route_request() {
    Exchange& ex = *ex_;
    // A reverse proxy is no CONNECT tunnel (RFC 9110 §9.3.6).
    if (ex.request.target_form == TargetForm::kAuthority) {
        HeaderList allow{{"Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"}};
        return client_.respond_local(405, "text/plain; charset=utf-8", "405 Method Not Allowed\n", allow,
                                     Termination::kBadRequest, true);
    }
    // One spelling of the path for everything after this (core/http1/path.h).
    if (http_.normalize_path && ex.request.target_form != TargetForm::kAsterisk)
        http1::normalize_path(ex.request.path);
    // Matched before the filters, which may count or act per route.
    ex.route = match_route(http_, ex.request, &ex.groups);
    assign_request_id(http_, ex);
    run_request_filters();
}

void ExchangeDriver::run_request_filters() {
    Exchange& ex = *ex_;
    // Rate limits, the router (the pool, or a local answer), request
    // header rewriting (filter.h).
    FilterResult r = listener_.filters().on_request_head(ex);
    if (r.responds()) return respond(r.answer);
    if (r.pauses()) {
        // Nothing more is read from the client meanwhile (client_readable
        // ignores kPaused; HTTP/1: TCP holds the rest back at the read
        // watermark; HTTP/2: the stream's window stays shut). The wait
        // counts as the server's response time: 504 past it.
        state_ = State::kPaused;
        return timer_.arm(Timer::kResponse, effective_timeouts(http_, ex).server_response_ms);
    }
    // A static_files route answers from the disk (static_exchange.cc).
    if (ex.pool == nullptr && ex.route != nullptr && ex.route->action == HttpRouteAction::kStatic)
        return serve_static();
    ex.sticky.begin(*ex.pool, ex.request);
    choose_server();
}

void ExchangeDriver::resume_request(FilterResult result) {
    FlushOnReturn flush{*this};
    if (ex_ == nullptr || state_ != State::kPaused) return;
    ex_->pause.reset();  // once: a second call finds nothing
    state_ = State::kRouting;
    timer_.stop();
    if (result.responds()) return respond(result.answer);
    run_request_filters();
}

void ExchangeDriver::server_failed(const ProxyError& error) {
    // A response filter may answer instead (the cache, with what it holds stale).
    if (!ex_->response_started)
        if (FilterResult r = listener_.filters().on_server_failure(*ex_, error); r.responds()) return respond(r.answer);
    client_.respond_error(error.status(), error.termination());
}

void ExchangeDriver::respond(const LocalAnswer& answer) {
    if (!answer.reason.empty()) ex_->reason = answer.reason;
    if (answer.as_stored) return client_.respond_stored(answer);
    client_.respond_local(answer.status, answer.content_type, answer.body, answer.headers, answer.term, answer.close);
}

// --- 3. the server ------------------------------------------------------------------

void ExchangeDriver::choose_server(std::shared_ptr<Server> failed) {
    Exchange& ex = *ex_;
    ServerPicker& picker = worker_.picker_for(*ex.pool, listener_.runtime());
    std::shared_ptr<Server> server;
    // A server can fill up between the pick and the slot (other workers).
    for (size_t attempt = 0; attempt <= picker.server_count(); ++attempt) {
        // The server the stickiness cookie names, if usable, else the balancer's.
        server = ex.sticky.pick(picker, ex.client.peer, ex.tried);
        if (server == nullptr || server->try_acquire_slot()) break;
        ex.tried.push_back(server.get());
        server = nullptr;
    }
    // No other server left to try: the one whose connect failed is tried
    // again (HAProxy's `retries`), unless that failure took it out. A burst
    // of connects can overflow a server's listen queue: its kernel drops
    // the SYNs, and a single-server pool answered 503 for each connect that
    // the SYN retransmissions (1 s, 3 s) did not bring in before
    // connect_timeout_ms (bench/README.md, h2_burst.sh).
    if (server == nullptr && failed != nullptr && failed->is_up() && failed->try_acquire_slot()) {
        failed->counters.connect_retries.fetch_add(1, std::memory_order_relaxed);
        server = std::move(failed);
    }
    if (server == nullptr)
        return server_failed(ProxyError::server(ex.tried.empty() ? ErrorCause::kNoServer : ErrorCause::kConnectFailed));
    ex.server = std::move(server);
    ex.server_label = ex.pool->name() + "/" + ex.server->name();
    connect_server();
}

void ExchangeDriver::connect_server() {
    Exchange& ex = *ex_;
    state_ = State::kConnecting;
    ex.server_bytes = false;
    ex.server_eof = false;
    const std::shared_ptr<const TlsClientContext>& tls = listener_.pool_tls(ex.pool->name());
    if (ex.pool->config().http2) return connect_h2(tls);
    if (!ex.fresh_connection_only() && http_.max_idle_per_server != 0) ex.upstream = worker_.upstreams().take(ex.server.get());
    if (ex.upstream && ex.upstream->tls != tls) ex.upstream.reset();  // made before a reload changed the pool's tls
    if (ex.upstream) {
        bufferevent_setcb(ex.upstream->bev.get(), &ExchangeDriver::on_server_read, &ExchangeDriver::on_server_write,
                          &ExchangeDriver::on_server_event, this);
        ex.connect_ms = 0;
        ex.reused_connection = true;
        return send_request();
    }
    ex.reused_connection = false;
    ex.upstream = std::make_unique<UpstreamConn>();
    ex.upstream->server = ex.server;
    ex.upstream->tls = tls;
    ex.upstream->bev = make_server_stream(worker_.base(), tls.get(), tls_check_name(tls.get()));
    // No SSL or bufferevent: lbd's own memory, never the server's fault.
    if (!ex.upstream->bev) return local_connect_failure(ENOMEM);
    bufferevent* bev = ex.upstream->bev.get();
    bufferevent_setcb(bev, &ExchangeDriver::on_server_read, &ExchangeDriver::on_server_write,
                      &ExchangeDriver::on_server_event, this);
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
    timer_.arm(Timer::kConnect, timeout);
}

std::string ExchangeDriver::tls_check_name(const TlsClientContext* tls) const {
    // Over TLS the server is checked against the pool's server_name or, if
    // none, its address (an IP: against the certificate's IP SANs).
    const bool by_address = tls != nullptr && ex_->pool->config().tls.context.server_name.empty();
    return by_address ? ex_->server->address().ip_string() : std::string();
}

void ExchangeDriver::connect_failed(const char* why) {
    Exchange& ex = *ex_;
    ex.upstream.reset();
    std::shared_ptr<Server> server = std::move(ex.server);
    ex.server = nullptr;
    server->release_slot();
    server->counters.connect_failures.fetch_add(1, std::memory_order_relaxed);
    ex.tried.push_back(server.get());
    LOG_DEBUG("pool %s: connect to %s failed: %s", ex.pool->name().c_str(), server->name().c_str(), why);
    if (passive_connect_failure(*server, ex.pool->config(), why))
        worker_.schedule_revive(server, ex.pool->config().passive_health.ejection_ms);
    // Nothing reached the server: another one (or, if none is left, this
    // one again) may take the request, up to the pool's retries.
    const ProxyError& error = ex.last_error.emplace(
        ProxyError::server(ErrorCause::kConnectFailed, ex.tried.size() <= ex.pool->config().retries));
    if (!error.retryable) return server_failed(error);
    choose_server(std::move(server));
}

void ExchangeDriver::local_connect_failure(int err) {
    Exchange& ex = *ex_;
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

// --- client events --------------------------------------------------------------------

void ExchangeDriver::client_readable() {
    if (state_ == State::kExchange && request_body_pending()) return pump_request_body();
    if (state_ == State::kTunnel) pump_tunnel();
    // else: the next pipelined request waits its turn
}

void ExchangeDriver::client_writable() {
    if (state_ == State::kExchange && ex_->response_started) return pump_response_body();
    if (state_ == State::kFile) return pump_file();
    if (state_ == State::kTunnel) pump_tunnel();
}

void ExchangeDriver::client_eof() {
    switch (state_) {
        case State::kPaused:
        case State::kConnecting:
            if (request_body_pending()) client_.abort(Termination::kClientAbort);
            return;  // else: answer, then close
        case State::kExchange:
            if (request_body_pending()) {
                pump_request_body();
                if (request_body_pending()) client_.abort(Termination::kClientAbort);
            }
            return;  // else: answer (and the pipelined requests before the FIN), then close
        case State::kTunnel: return pump_tunnel();
        default: return;
    }
}

// --- server events --------------------------------------------------------------------

void ExchangeDriver::on_server_read(bufferevent*, void* arg) {
    auto* self = static_cast<ExchangeDriver*>(arg);
    FlushOnReturn flush{*self};
    if (self->ex_ == nullptr) return;
    self->ex_->server_bytes = true;  // only an exchange's connection calls back
    if (self->state_ == State::kExchange) {
        if (!self->ex_->response_started) return self->read_response_head();
        return self->pump_response_body();
    }
    if (self->state_ == State::kTunnel) self->pump_tunnel();
}

void ExchangeDriver::on_server_write(bufferevent*, void* arg) {
    auto* self = static_cast<ExchangeDriver*>(arg);
    FlushOnReturn flush{*self};
    if (self->state_ == State::kExchange && self->request_body_pending()) return self->pump_request_body();
    if (self->state_ == State::kTunnel) self->pump_tunnel();
}

void ExchangeDriver::on_server_event(bufferevent* bev, short what, void* arg) {
    auto* self = static_cast<ExchangeDriver*>(arg);
    FlushOnReturn flush{*self};
    if (self->ex_ == nullptr) return;
    if (self->state_ == State::kConnecting) {
        if (what & BEV_EVENT_CONNECTED) {
            Exchange& ex = *self->ex_;
            ex.connect_ms = static_cast<int64_t>(monotonic_ms() - ex.connect_start_ms);
            ex.server->counters.connect_time.observe(static_cast<uint64_t>(ex.connect_ms));
            return self->send_request();
        }
        return self->connect_failed(stream_error(bev).c_str());
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->server_closed((what & BEV_EVENT_ERROR) != 0);
}

void ExchangeDriver::on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<ExchangeDriver*>(arg);
    FlushOnReturn flush{*self};
    if (self->ex_ != nullptr) self->timed_out();
}

void ExchangeDriver::timed_out() {
    switch (timer_.kind()) {
        case Timer::kNone: return;
        case Timer::kConnect: return connect_failed("connect timed out");
        case Timer::kResponse: return server_failed(ProxyError::server(ErrorCause::kResponseTimeout));
        case Timer::kBodyIdle:
        case Timer::kTunnelIdle: {
            if (!timer_.idle_for_period()) return;
            if (timer_.kind() == Timer::kTunnelIdle) return client_.abort(Termination::kTunnel);
            if (waits_for_busy_client()) return timer_.restart();
            // A client that stops sending its body before any response: 408.
            if (state_ == State::kExchange && request_body_pending() && !ex_->response_started)
                return client_.respond_error(408, Termination::kBodyTimeout);
            return client_.abort(Termination::kBodyTimeout);
        }
    }
}

bool ExchangeDriver::waits_for_busy_client() {
    const Exchange& ex = *ex_;
    if (!ex.upstream || !ex.response_started || ex.response_done) return false;
    // HTTP/2 serves a connection's streams one after another (RFC 9218): a
    // stream behind a long response holds its first bytes, reads no more from
    // its server and moves nothing until its turn, however long the others
    // take. Its body idle time runs again once the connection sends nothing.
    const uint64_t sent = client_.connection_sent_ms();
    if (sent == 0 || monotonic_ms() - sent >= effective_timeouts(http_, ex).body_idle_ms) return false;
    // Whether the last pump stopped reading the server for the client, not
    // a fresh response_room(): a stream that stopped at the connection's
    // response budget stays stopped until the budget wakes it (down to half),
    // while response_room() answers kTake as soon as the budget dips below
    // full, and the stream was cut waiting its turn (seen in CI). Bytes
    // left in the server's input wait for the client too (a server that
    // closed is not held: its EOF is in hand).
    return server_reads_held_ || evbuffer_get_length(bufferevent_get_input(ex.upstream->bev.get())) > 0;
}

}  // namespace lbd::l7
