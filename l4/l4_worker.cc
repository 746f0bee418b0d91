#include "l4/l4_worker.h"

#include <algorithm>

#include "l4/splice_session.h"
#include "l4/l4_listener.h"

namespace lbd::l4 {

namespace {
// While connections wait for a server slot, the queues are looked at this
// often as well as whenever a connection of this worker ends: a slot freed
// by another worker's connection is not announced across threads.
constexpr uint32_t kQueueCheckMs = 10;
}  // namespace

L4Worker::L4Worker(Worker& worker, const GlobalConfig& global)
    : worker_(worker), global_(global), revivals_(worker.base()) {
    queue_timer_ = make_event(worker_.base(), -1, 0, &L4Worker::on_queue_timer, this);
}

L4Worker::~L4Worker() {
    // Sessions and listeners free their events; the worker's base outlives us.
    queues_.clear();
    sessions_.clear();
    listeners_.clear();
}

ServerPicker& L4Worker::picker_for(const L4Listener& listener) {
    PickerEntry& entry = pickers_[&listener.pool()];
    if (!entry.picker) {
        entry.runtime = listener.runtime();
        entry.picker = std::make_unique<ServerPicker>(listener.pool());
    }
    return *entry.picker;
}

void L4Worker::add_listener(std::shared_ptr<L4Listener> listener) { listeners_.push_back(std::move(listener)); }

std::shared_ptr<L4Listener> L4Worker::find_listener(const std::string& name) const {
    for (const auto& listener : listeners_)
        if (listener->config().name == name) return listener;
    return nullptr;
}

void L4Worker::replace_listeners(std::vector<std::shared_ptr<L4Listener>> next, const GlobalConfig& global) {
    for (auto& old : listeners_) old->stop();  // no-op for those whose socket moved on
    listeners_ = std::move(next);
    global_ = global;
    // Connections of the old configuration still connecting make their own
    // picker again (keyed by their pool); the rest of the old ones go now.
    pickers_.clear();
}

void L4Worker::start_session(std::unique_ptr<SpliceSession> session) {
    SpliceSession* raw = session.get();
    sessions_.push_front(std::move(session));
    raw->self = sessions_.begin();
    raw->start();
}

void L4Worker::session_ended(SpliceSession* session, Pool* pool, bool released_server_slot) {
    sessions_.erase(session->self);
    if (released_server_slot && pool != nullptr) {
        auto it = queues_.find(pool);
        if (it != queues_.end() && !it->second.empty()) service_queues();
    }
}

bool L4Worker::enqueue(Pool& pool, SpliceSession* session) {
    auto& queue = queues_[&pool];
    if (queue.size() >= pool.config().queue_size) return false;
    queue.push_back(session);
    if (!event_pending(queue_timer_.get(), EV_TIMEOUT, nullptr)) arm_timer(queue_timer_.get(), kQueueCheckMs);
    return true;
}

void L4Worker::dequeue(Pool& pool, SpliceSession* session) {
    auto it = queues_.find(&pool);
    if (it == queues_.end()) return;
    auto& queue = it->second;
    queue.erase(std::remove(queue.begin(), queue.end(), session), queue.end());
}

void L4Worker::on_queue_timer(evutil_socket_t, short, void* arg) { static_cast<L4Worker*>(arg)->service_queues(); }

void L4Worker::service_queues() {
    uint64_t now = monotonic_ms();
    bool waiting = false;
    for (auto& [pool, queue] : queues_) {
        while (!queue.empty()) {
            SpliceSession* head = queue.front();
            if (now - head->queued_since_ms() >= pool->config().queue_timeout_ms) {
                queue.pop_front();
                head->queue_expired();
                continue;
            }
            if (!head->has_free_server()) break;
            queue.pop_front();
            head->leave_queue();
        }
        waiting = waiting || !queue.empty();
    }
    if (waiting && !event_pending(queue_timer_.get(), EV_TIMEOUT, nullptr)) arm_timer(queue_timer_.get(), kQueueCheckMs);
}

void L4Worker::stop_accepting() {
    for (auto& listener : listeners_) listener->stop();
}

void L4Worker::hand_over(const std::vector<std::string>& addresses, uint32_t /*drain_timeout_ms*/) {
    for (auto& listener : listeners_) listener->drop_syns_to(addresses);
}

void L4Worker::abort_all(EndReason reason) {
    while (!sessions_.empty()) sessions_.front()->abort(reason);
}

}  // namespace lbd::l4
