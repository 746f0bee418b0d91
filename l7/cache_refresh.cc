// stale-while-revalidate's background refreshes (cache_refresh.h).
#include "l7/cache_refresh.h"

#include "core/base/clock.h"
#include "l7/l7_worker.h"

namespace lbd::l7 {

CacheRefresh::CacheRefresh(L7Worker& worker, HttpListener& listener, const ClientEndpoint& client)
    : client_(client),
      ex_(client_, monotonic_ms()),
      driver_(worker, listener, *this),
      input_(evbuffer_new(), &evbuffer_free),
      output_(evbuffer_new(), &evbuffer_free) {}

CacheRefresh::~CacheRefresh() {
    driver_.stop();
    ex_.release_server();
}

void CacheRefresh::start() {
    started_ = true;
    if (input_ == nullptr || output_ == nullptr) return finish();
    driver_.start(ex_);
    // Not from a server callback (whose end flushes): a request written on
    // a reused connection would otherwise wait in its buffer.
    if (!done_) driver_.flush_upstream();
}

void CacheRefresh::send_response_head(Exchange& ex) {
    // No client: the body is read (and, through the store filter's stage,
    // stored), nothing is framed for anyone.
    ex.framing = ClientFraming::kNone;
    ex.status = ex.response.status;
    ex.response_started = true;
}

void CacheRefresh::response_data_added() {
    // A body without stages (not stored) comes here as it is: dropped.
    evbuffer_drain(output_.get(), evbuffer_get_length(output_.get()));
}

void CacheRefresh::finish() {
    if (done_) return;
    done_ = true;
    driver_.stop();
    // Waiters for the key look it up again now (stored, refreshed, or still stale).
    if (ex_.cache.fill) ex_.cache.fill->end(false);
    if (on_done_) on_done_();
}

CacheRefreshes::CacheRefreshes(L7Worker& worker, HttpListener& listener)
    : worker_(worker), listener_(listener), kick_(make_event(worker.base(), -1, 0, &CacheRefreshes::on_kick, this)) {}

CacheRefreshes::~CacheRefreshes() {
    kick_.reset();
    refreshes_.clear();
}

CacheRefresh& CacheRefreshes::add(const ClientEndpoint& client) {
    auto& refresh = refreshes_.emplace_back(std::make_unique<CacheRefresh>(worker_, listener_, client));
    refresh->on_done_ = [this] { kick(); };
    kick();
    return *refresh;
}

void CacheRefreshes::kick() {
    if (kick_ != nullptr) event_active(kick_.get(), EV_TIMEOUT, 0);
}

void CacheRefreshes::on_kick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<CacheRefreshes*>(arg);
    // Ended ones first: none of their callbacks is on the stack now.
    self->refreshes_.remove_if([](const auto& r) { return r->done(); });
    for (auto& refresh : self->refreshes_)
        if (!refresh->started()) refresh->start();  // may end at once (no server): kicks again
}

}  // namespace lbd::l7
