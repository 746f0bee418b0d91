// The cache's filters (cache_filter.h).
#include "l7/cache_filter.h"

#include <cstdlib>
#include <ctime>

#include "l7/cache_policy.h"

namespace lbd::l7 {
namespace {

// Wall-clock seconds: Date, Expires and Age are wall-clock quantities.
int64_t now_s() { return static_cast<int64_t>(time(nullptr)); }

void add_status_headers(HeaderList& headers, const HttpRouteCache& route, CacheStatus status) {
    if (!route.status_headers) return;
    headers.emplace_back("X-Cache", status == CacheStatus::kHit || status == CacheStatus::kRevalidated ? "HIT" : "MISS");
    headers.emplace_back("X-Cache-Status", to_string(status));
}

// RFC 9110 §15.4.5: the fields a 304 carries.
constexpr std::string_view kNotModifiedFields[] = {"cache-control", "content-location", "date", "etag",
                                                   "expires",       "last-modified",    "vary"};

// Copies the body into the object as it streams, passing it on unchanged
// (the client never waits for the copy), and stores the object at the end:
// not if it grew past the zone's max_object_bytes (the rest only streams)
// or the body did not complete.
class CacheFill final : public ResponseBodyFilter {
public:
    CacheFill(CacheZone& zone, std::string base_key, std::string key, std::shared_ptr<CacheObject> object,
              std::shared_ptr<CacheFillTicket> fill)
        : zone_(zone), base_key_(std::move(base_key)), key_(std::move(key)), object_(std::move(object)),
          fill_(std::move(fill)) {}

    bool on_body(evbuffer* in, evbuffer* out, bool end) override {
        const size_t n = evbuffer_get_length(in);
        if (object_ != nullptr && n > 0) {
            std::string& body = object_->body;
            if (body.size() + n > zone_.config().max_object_bytes) {
                zone_.counters().too_large.fetch_add(1, std::memory_order_relaxed);
                object_.reset();
                if (fill_) fill_->end(true);
            } else {
                const size_t old = body.size();
                body.resize(old + n);
                evbuffer_copyout(in, body.data() + old, n);
            }
        }
        evbuffer_add_buffer(out, in);
        if (end && object_ != nullptr) commit();
        return true;
    }
    void on_abort() override {
        object_.reset();
        if (fill_) fill_->end(false);
    }

private:
    void commit() {
        if (!object_->vary.empty()) {
            // The marker under the base key says which request headers pick the variant.
            auto marker = std::make_shared<CacheObject>();
            marker->vary = object_->vary;
            zone_.insert(base_key_, std::move(marker));
        }
        zone_.insert(key_, std::move(object_));
        object_.reset();
        if (fill_) fill_->end(false);  // stored: the waiters find it
    }

    CacheZone& zone_;
    const std::string base_key_;
    const std::string key_;
    std::shared_ptr<CacheObject> object_;  // null once dropped or stored
    std::shared_ptr<CacheFillTicket> fill_;  // set when others wait for this body
};

std::shared_ptr<CacheObject> make_object(const ResponseInfo& response, const StoreDecision& decision, int64_t now) {
    auto object = std::make_shared<CacheObject>();
    object->status = response.status;
    object->headers = stored_headers(response.headers, decision.strip);
    object->response_time_s = now;
    object->initial_age_s = decision.initial_age_s;
    object->lifetime_s = decision.lifetime_s;
    object->revalidate = decision.revalidate;
    object->vary = decision.vary;
    return object;
}

// Asks the server whether `stale` is still good (RFC 9111 §4.3.1), unless
// the client's own conditional is already on the request (then the
// server's answer is the client's).
bool add_validators(RequestInfo& request, const CacheObject& stale) {
    if (find_header(request.headers, "if-none-match") != nullptr ||
        find_header(request.headers, "if-modified-since") != nullptr)
        return false;
    const std::string* etag = find_header(stale.headers, "etag");
    const std::string* modified = find_header(stale.headers, "last-modified");
    if (etag != nullptr) request.headers.emplace_back("If-None-Match", *etag);
    if (modified != nullptr) request.headers.emplace_back("If-Modified-Since", *modified);
    return etag != nullptr || modified != nullptr;
}

// The stored response refreshed by the server's 304 (§4.3.4): its fields
// replace the stored ones of the same name; the freshness is computed anew.
FilterResult refreshed_answer(Exchange& ex, int64_t now, std::vector<std::string> tags) {
    CacheRequest& cache = ex.cache;
    const HttpRouteCache& route = ex.route->cache;
    ResponseInfo merged;
    merged.status = cache.stale->status;
    merged.headers = cache.stale->headers;
    for (const auto& [name, value] : ex.response.headers) {
        if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
        set_header(merged.headers, name, value);
    }
    // The conditionals were ours (add_validators), not the client's: the
    // client gets the stored response, not a 304 to a question it never asked.
    remove_header(ex.request.headers, "if-none-match");
    remove_header(ex.request.headers, "if-modified-since");
    StoreDecision decision = decide_store(ex.request, merged, route, now);
    std::shared_ptr<CacheObject> object = make_object(merged, decision, now);
    object->body = cache.stale->body;
    object->tags = std::move(tags);
    if (decision.store)
        cache.zone->insert(object->vary.empty() ? cache.key : cache_variant_key(cache.key, object->vary, ex.request),
                           object);
    cache.status = CacheStatus::kRevalidated;
    cache.zone->counters().hits.fetch_add(1, std::memory_order_relaxed);
    return FilterResult::respond(cache_answer(ex, object, now));
}

}  // namespace

// A paused miss (collapsing). Owned by its exchange (CacheRequest::wait);
// the wake-up task holds it weakly, so an exchange that ended meanwhile is
// simply not resumed.
struct CacheWait {
    Exchange* exchange = nullptr;
    ExchangeResumer resumer;
};

namespace {

// On the waiter's worker, once the fill it waited for ended: the stored
// response, or on to the server.
void resume_waiter(CacheWait& wait) {
    Exchange& ex = *wait.exchange;
    const ExchangeResumer resumer = wait.resumer;
    ex.cache.wait.reset();  // `wait` is gone from here on
    CacheZone& zone = *ex.cache.zone;
    const int64_t now = now_s();
    CacheObjectPtr object = cache_find(zone, ex.cache.key, ex.request);
    if (object != nullptr && cache_fresh(*object, now)) {
        ex.cache.status = CacheStatus::kHit;
        zone.counters().hits.fetch_add(1, std::memory_order_relaxed);
        return resumer(FilterResult::respond(cache_answer(ex, object, now)));
    }
    zone.counters().misses.fetch_add(1, std::memory_order_relaxed);
    resumer(FilterResult::next());
}

}  // namespace

ListenerCaches::ListenerCaches(const CacheZones& zones, const HttpConfig& http) : http_(http) {
    for (const HttpRouteConfig& route : http.routes)
        by_route_.push_back(route.cache.enabled() ? zones.find(route.cache.zone) : nullptr);
}

CacheZone* ListenerCaches::zone(const HttpRouteConfig* route) const {
    if (route == nullptr || by_route_.empty()) return nullptr;
    return by_route_[static_cast<size_t>(route - http_.routes.data())];
}

CacheObjectPtr cache_find(CacheZone& zone, const std::string& key, const RequestInfo& request) {
    CacheObjectPtr object = zone.find(key);
    if (object != nullptr && object->is_vary_marker()) object = zone.find(cache_variant_key(key, object->vary, request));
    return object;
}

LocalAnswer cache_answer(const Exchange& exchange, const CacheObjectPtr& object, int64_t now) {
    LocalAnswer answer;
    answer.as_stored = true;
    answer.term = Termination::kOk;
    if (client_not_modified(exchange.request, *object)) {
        answer.status = 304;
        for (const auto& [name, value] : object->headers)
            for (std::string_view keep : kNotModifiedFields)
                if (iequals(name, keep)) answer.headers.emplace_back(name, value);
    } else {
        answer.status = object->status;
        answer.headers = object->headers;
        // Aliasing: the body lives as long as the object, which the answer holds.
        answer.shared_body = std::shared_ptr<const std::string>(object, &object->body);
    }
    answer.headers.emplace_back("Age", std::to_string(cache_current_age(*object, now)));
    add_status_headers(answer.headers, exchange.route->cache, exchange.cache.status);
    return answer;
}

FilterResult CacheLookupFilter::on_request_head(Exchange& ex) {
    CacheZone* zone = caches_.zone(ex.route);
    if (zone == nullptr) return FilterResult::next();
    CacheRequest& cache = ex.cache;
    cache.zone = zone;
    if (cache_bypass_reason(ex.request, ex.route->cache) != nullptr) {
        cache.status = CacheStatus::kBypass;
        return FilterResult::next();
    }
    cache.key = cache_key(ex.request, ex.client.scheme, ex.route->cache);
    cache.may_store = true;
    cache.status = CacheStatus::kMiss;
    // RFC 9111 §3.5: a stored response answers a request with Authorization
    // only if it was stored from such a request with public/s-maxage; the
    // zone does not keep that distinction, so these always go to the server.
    if (find_header(ex.request.headers, "authorization") != nullptr) {
        zone->counters().misses.fetch_add(1, std::memory_order_relaxed);
        return FilterResult::next();
    }
    const int64_t now = now_s();
    CacheObjectPtr object = cache_find(*zone, cache.key, ex.request);
    if (object != nullptr && cache_fresh(*object, now)) {
        cache.status = CacheStatus::kHit;
        zone->counters().hits.fetch_add(1, std::memory_order_relaxed);
        return FilterResult::respond(cache_answer(ex, object, now));
    }
    if (object != nullptr) {
        zone->counters().misses.fetch_add(1, std::memory_order_relaxed);
        cache.status = CacheStatus::kExpired;
        if (add_validators(ex.request, *object)) cache.stale = std::move(object);
        return FilterResult::next();
    }
    // Only a GET's response is stored, so only a GET fetches for others.
    if (ex.request.method_kind != HttpMethod::kGet) {
        zone->counters().misses.fetch_add(1, std::memory_order_relaxed);
        return FilterResult::next();
    }
    return collapse(ex, *zone);
}

FilterResult CacheLookupFilter::collapse(Exchange& ex, CacheZone& zone) {
    auto wait = std::make_shared<CacheWait>();
    wait->exchange = &ex;
    std::weak_ptr<CacheWait> weak = wait;
    Worker* worker = &worker_;
    // `wake` runs on the filler's thread; the waiter is resumed on its own.
    // It cannot run before this returns: the task needs this worker's loop.
    const FillRole role = zone.join_fill(ex.cache.key, monotonic_ms(), [weak, worker] {
        worker->post([weak] {
            if (std::shared_ptr<CacheWait> w = weak.lock()) resume_waiter(*w);
        });
    });
    if (role == FillRole::kWait) {
        wait->resumer = ex.resumer();
        ex.cache.wait = std::move(wait);
        return FilterResult::pause();
    }
    zone.counters().misses.fetch_add(1, std::memory_order_relaxed);
    if (role == FillRole::kFill) ex.cache.fill = std::make_shared<CacheFillTicket>(zone, ex.cache.key);
    return FilterResult::next();
}

FilterResult CacheStoreFilter::on_response_head(Exchange& ex) {
    CacheRequest& cache = ex.cache;
    if (cache.zone == nullptr) return FilterResult::next();
    const int64_t now = now_s();
    // Taken (and stripped, by default) whether or not the response is stored.
    std::vector<std::string> tags = cache_take_tags(cache.zone->config(), ex.response.headers);
    if (cache.stale != nullptr && ex.response.status == 304)
        return refreshed_answer(ex, now, tags.empty() ? cache.stale->tags : std::move(tags));
    if (!cache.may_store) {
        // Not stored this time (the compression filter left this body as it
        // was for this request only): waiters go to the server now.
        if (cache.fill) cache.fill->end(false);
    } else {
        StoreDecision decision = decide_store(ex.request, ex.response, ex.route->cache, now);
        const std::string* length = find_header(ex.response.headers, "content-length");
        if (decision.store && length != nullptr &&
            std::strtoull(length->c_str(), nullptr, 10) > cache.zone->config().max_object_bytes) {
            cache.zone->counters().too_large.fetch_add(1, std::memory_order_relaxed);
            decision.store = false;
        }
        if (decision.store) {
            std::shared_ptr<CacheObject> object = make_object(ex.response, decision, now);
            object->tags = std::move(tags);
            std::string key = object->vary.empty() ? cache.key : cache_variant_key(cache.key, object->vary, ex.request);
            ex.body_filters.push_back(
                std::make_unique<CacheFill>(*cache.zone, cache.key, std::move(key), std::move(object), cache.fill));
        } else if (cache.fill) {
            cache.fill->end(true);  // waiters go to the server now; later misses do not wait a while
        }
    }
    add_status_headers(ex.response.headers, ex.route->cache, cache.status);
    return FilterResult::next();
}

}  // namespace lbd::l7
