#include "core/admin/admin_http_limits.h"

#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "core/base/log.h"

namespace lbd {

namespace {

// libevent calls a listener's error callback with the listener's user data,
// which evhttp owns (its `evhttp*`): this finds our object instead. Control
// thread only.
std::unordered_map<evconnlistener*, AdminHttpLimits*>& by_listener() {
    static std::unordered_map<evconnlistener*, AdminHttpLimits*> map;
    return map;
}

}  // namespace

// One admin HTTP connection: our reference to its bufferevent, and the
// deadline for its next request.
struct AdminHttpLimits::Connection {
    bufferevent* bev = nullptr;
    EventPtr deadline;
    ~Connection() { bufferevent_decref(bev); }
};

AdminHttpLimits::AdminHttpLimits(event_base* base) : base_(base) {
    resume_timer_ = make_event(
        base_, -1, 0,
        [](evutil_socket_t, short, void* arg) {
            auto* self = static_cast<AdminHttpLimits*>(arg);
            self->paused_ = false;
            self->update_listener();
        },
        this);
    sweep_timer_ = make_event(
        base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<AdminHttpLimits*>(arg)->sweep(); }, this);
}

// evhttp_free (in ~AdminHttp, before this) has let every connection go; our
// references are the last ones.
AdminHttpLimits::~AdminHttpLimits() {
    if (listener_ != nullptr) by_listener().erase(listener_);
}

void AdminHttpLimits::apply(evhttp* http) {
    evhttp_set_max_headers_size(http, kMaxHeaderBytes);
    evhttp_set_max_body_size(http, kMaxBodyBytes);
    // evhttp's own read/write timeout: a reader that stops reading a reply.
    evhttp_set_timeout(http, static_cast<int>(kRequestDeadlineMs / 1000));
    evhttp_set_bevcb(http, &AdminHttpLimits::new_connection, this);
}

void AdminHttpLimits::watch(evhttp_bound_socket* handle) {
    listener_ = evhttp_bound_socket_get_listener(handle);
    by_listener()[listener_] = this;
    // Without an error callback libevent logs every failed accept and the
    // level-triggered event fires again at once.
    evconnlistener_set_error_cb(listener_, &AdminHttpLimits::on_accept_error);
    update_listener();
}

bufferevent* AdminHttpLimits::new_connection(event_base* base, void* arg) {
    auto* self = static_cast<AdminHttpLimits*>(arg);
    bufferevent* bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == nullptr) return nullptr;  // evhttp makes its own (uncounted): out of memory anyway
    bufferevent_incref(bev);
    auto connection = std::make_unique<Connection>();
    connection->bev = bev;
    connection->deadline = make_event(base, -1, 0, &AdminHttpLimits::on_deadline, connection.get());
    arm_timer(connection->deadline.get(), kRequestDeadlineMs);
    self->connections_.emplace(bev, std::move(connection));
    self->update_listener();
    if (!event_pending(self->sweep_timer_.get(), EV_TIMEOUT, nullptr)) arm_timer(self->sweep_timer_.get(), kSweepMs);
    return bev;
}

void AdminHttpLimits::sweep() {
    for (auto it = connections_.begin(); it != connections_.end();) {
        bufferevent_event_cb on_event = nullptr;
        bufferevent_getcb(it->first, nullptr, nullptr, &on_event, nullptr);
        // evhttp sets its callbacks when it takes the bufferevent, and only
        // bufferevent_free clears them on a server-side connection.
        it = on_event == nullptr ? connections_.erase(it) : std::next(it);
    }
    update_listener();
    if (!connections_.empty()) arm_timer(sweep_timer_.get(), kSweepMs);
}

void AdminHttpLimits::on_deadline(evutil_socket_t, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    // evhttp reads EOF and closes the connection itself (it owns it).
    int fd = bufferevent_getfd(connection->bev);
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    LOG_DEBUG("admin http: no request within %u ms; closing the connection", kRequestDeadlineMs);
}

void AdminHttpLimits::request_arrived(evhttp_request* request) {
    evhttp_connection* connection = evhttp_request_get_connection(request);
    if (connection == nullptr) return;
    auto it = connections_.find(evhttp_connection_get_bufferevent(connection));
    if (it != connections_.end()) arm_timer(it->second->deadline.get(), kRequestDeadlineMs);
}

void AdminHttpLimits::on_accept_error(evconnlistener* listener, void*) {
    int err = EVUTIL_SOCKET_ERROR();
    auto found = by_listener().find(listener);
    if (found == by_listener().end()) return;
    AdminHttpLimits* self = found->second;
    if (err == EINTR || err == EAGAIN || err == ECONNABORTED) return;
    self->paused_ = true;
    self->update_listener();
    arm_timer(self->resume_timer_.get(), kAcceptPauseMs);
    uint64_t now = monotonic_ms();
    if (self->last_log_ms_ != 0 && now - self->last_log_ms_ < kLogEveryMs) {
        ++self->unlogged_pauses_;
        return;
    }
    LOG_WARN("admin http: accept: %s; pausing %u ms (%llu more pauses since the last such line)", strerror(err),
             kAcceptPauseMs, static_cast<unsigned long long>(self->unlogged_pauses_));
    self->last_log_ms_ = now;
    self->unlogged_pauses_ = 0;
}

void AdminHttpLimits::update_listener() {
    if (listener_ == nullptr) return;
    bool listen = !paused_ && connections_.size() < kMaxConnections;
    if (listen == listening_) return;
    listening_ = listen;
    if (listen) {
        evconnlistener_enable(listener_);
    } else {
        evconnlistener_disable(listener_);
    }
}

}  // namespace lbd
