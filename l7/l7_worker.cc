#include "l7/l7_worker.h"

#include <algorithm>

#include "l7/http_listener.h"
#include "l7/http_session.h"

namespace lbd::l7 {

L7Worker::L7Worker(Worker& worker, const GlobalConfig& global)
    : worker_(worker), global_(global), parked_(worker.base(), *this), proxy_waits_(*this), revivals_(worker.base()),
      upstreams_(worker.base()) {
    reaper_ = make_event(worker_.base(), -1, 0, &L7Worker::on_reap, this);
}

L7Worker::~L7Worker() {
    upstreams_.clear();
    ended_.clear();
    sessions_.clear();
    parked_.close_all();
    proxy_waits_.close_all();
    listeners_.clear();
}

ServerPicker& L7Worker::picker_for(Pool& pool, const RuntimePtr& runtime) {
    PickerEntry& entry = pickers_[&pool];
    if (!entry.picker) {
        entry.runtime = runtime;
        entry.picker = std::make_unique<ServerPicker>(pool);
    }
    return *entry.picker;
}

void L7Worker::add_listener(std::shared_ptr<HttpListener> listener) { listeners_.push_back(std::move(listener)); }

std::shared_ptr<HttpListener> L7Worker::find_listener(const std::string& name) const {
    for (const auto& listener : listeners_)
        if (listener->config().name == name) return listener;
    return nullptr;
}

void L7Worker::replace_listeners(std::vector<std::shared_ptr<HttpListener>> next, const GlobalConfig& global) {
    for (auto& old : listeners_) {
        old->stop();
        old->mark_replaced();
    }
    // HTTP/2 connections are long-lived (a browser's, a gRPC channel's):
    // a graceful GOAWAY moves their clients to the new configuration as
    // their open streams finish. Stepped first: it may end a session.
    for (auto it = sessions_.begin(); it != sessions_.end();) (*it++)->listener_replaced();
    parked_.wake_h2();  // a woken one sees its listener replaced (HttpSession::resume_h2)
    listeners_ = std::move(next);
    global_ = global;
    pickers_.clear();
    // Idle connections may be to servers the new configuration dropped.
    upstreams_.clear();
}

void L7Worker::start_session(std::unique_ptr<HttpSession> session) {
    HttpSession* raw = session.get();
    if (spare_nodes_.empty()) {
        sessions_.push_front(std::move(session));
    } else {
        sessions_.splice(sessions_.begin(), spare_nodes_, spare_nodes_.begin());
        sessions_.front() = std::move(session);
    }
    raw->self = sessions_.begin();
    raw->start();
}

HttpSession* L7Worker::resume_session(ParkedClient client) {
    auto session = std::make_unique<HttpSession>(*this, std::move(client));
    HttpSession* raw = session.get();
    start_session(std::move(session));
    return raw;
}

void L7Worker::session_ended(HttpSession* session) {
    ended_.splice(ended_.end(), sessions_, session->self);
    event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void L7Worker::on_reap(evutil_socket_t, short, void* arg) {
    // Enough spare nodes for the connections a loop iteration ends under a
    // connection-per-request load; past it they are freed.
    constexpr size_t kMaxSpareNodes = 64;
    auto* self = static_cast<L7Worker*>(arg);
    // Taken first: a session's destructor must not see the list it is in change.
    SessionList reaped;
    reaped.splice(reaped.end(), self->ended_);
    for (std::unique_ptr<HttpSession>& session : reaped) session.reset();
    self->spare_nodes_.splice(self->spare_nodes_.end(), reaped);
    if (self->spare_nodes_.size() > kMaxSpareNodes) self->spare_nodes_.resize(kMaxSpareNodes);
}

void L7Worker::stop_accepting() {
    draining_ = true;
    for (auto& listener : listeners_) listener->stop();
    // drain() may end a session (erasing it from the list): step first.
    for (auto it = sessions_.begin(); it != sessions_.end();) (*it++)->drain();
    parked_.drain();
    proxy_waits_.close_all();
    upstreams_.clear();
}

void L7Worker::hand_over(const std::vector<std::string>& addresses, uint32_t drain_timeout_ms) {
    for (auto& listener : listeners_) listener->drop_syns_to(addresses);
    handing_over_ = !addresses.empty();
    if (!handing_over_) return;
    handover_start_ms_ = monotonic_ms();
    handover_idle_grace_ms_ = handover_idle_grace_ms(drain_timeout_ms);
    // drain_softly() may end a session (erasing it from the list): step first.
    for (auto it = sessions_.begin(); it != sessions_.end();) (*it++)->drain_softly();
    parked_.expire_for_handover();
    // Server connections stay: the sessions still being answered use them.
}

uint32_t L7Worker::handover_idle_left_ms(uint64_t idle_since_ms, uint32_t keep_alive_ms) const {
    const uint64_t grace_end = std::min(idle_since_ms, handover_start_ms_) + handover_idle_grace_ms_;
    const uint64_t end = std::min(grace_end, idle_since_ms + keep_alive_ms);
    const uint64_t now = monotonic_ms();
    return end > now ? static_cast<uint32_t>(end - now) : 0;
}

void L7Worker::abort_all() {
    parked_.close_all();
    proxy_waits_.close_all();
    while (!sessions_.empty()) sessions_.front()->abort();
}

}  // namespace lbd::l7
