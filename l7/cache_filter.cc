// The cache's filters (cache_filter.h).
#include "l7/cache_filter.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <utility>

#include "core/loop/event.h"
#include "l7/cache_fill.h"
#include "l7/cache_policy.h"
#include "l7/cache_refresh.h"
#include "l7/client_side.h"
#include "l7/l7_worker.h"
#include "l7/route_filter.h"

namespace lbd::l7 {
namespace {

// Wall-clock seconds: Date, Expires and Age are wall-clock quantities.
int64_t now_s() { return static_cast<int64_t>(time(nullptr)); }

void add_status_headers(HeaderList& headers, const HttpRouteCache& route, CacheStatus status) {
    if (!route.status_headers) return;
    const bool hit = status == CacheStatus::kHit || status == CacheStatus::kRevalidated ||
                     status == CacheStatus::kStale || status == CacheStatus::kUpdating;
    headers.emplace_back("X-Cache", hit ? "HIT" : "MISS");
    headers.emplace_back("X-Cache-Status", to_string(status));
}

// RFC 9110 §15.4.5: the fields a 304 carries.
constexpr std::string_view kNotModifiedFields[] = {"cache-control", "content-location", "date", "etag",
                                                   "expires",       "last-modified",    "vary"};

std::shared_ptr<CacheObject> make_object(const ResponseInfo& response, const StoreDecision& decision, int64_t now) {
    auto object = std::make_shared<CacheObject>();
    object->status = response.status;
    object->headers = stored_headers(response.headers, decision.strip);
    object->head_lines = field_lines(object->headers);
    object->response_time_s = now;
    object->initial_age_s = decision.initial_age_s;
    object->lifetime_s = decision.lifetime_s;
    object->revalidate = decision.revalidate;
    object->no_stale = decision.no_stale;
    object->stale_if_error_s = decision.stale_if_error_s;
    object->stale_while_revalidate_s = decision.stale_while_revalidate_s;
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

// RFC 9111 §3.2: the fields of a 304 that do not update the stored
// response: framing, Age (computed anew), our own status fields, and those
// the stored bytes depend on. Those are the coding the compression filter
// chose (Content-Encoding), the variant it is keyed by (Vary, which gained
// Accept-Encoding), and an ETag the compression made weak while the
// server's 304 repeats its strong form.
bool kept_on_update(std::string_view name, const HeaderList& stored) {
    static constexpr std::string_view kKept[] = {"content-length", "transfer-encoding", "content-encoding",
                                                 "content-range",  "age",               "vary",
                                                 "x-cache",        "x-cache-status"};
    for (std::string_view kept : kKept)
        if (iequals(name, kept)) return true;
    if (iequals(name, "etag")) {
        const std::string* etag = find_header(stored, "etag");
        return etag != nullptr && std::string_view(*etag).starts_with("W/");
    }
    return false;
}

// The stored headers updated by a 304's (§3.2, §4.3.4): every field the
// 304 carries replaces all stored fields of its name, as a group (two
// Cache-Control lines stay two); the others stay as they were.
HeaderList updated_headers(const HeaderList& stored, const HeaderList& fresh) {
    auto replaced = [&](const std::string& name) {
        if (kept_on_update(name, stored)) return false;
        return std::any_of(fresh.begin(), fresh.end(), [&](const auto& f) { return iequals(f.first, name); });
    };
    HeaderList out;
    out.reserve(stored.size() + fresh.size());
    for (const auto& field : stored)
        if (!replaced(field.first)) out.push_back(field);
    for (const auto& field : fresh)
        if (!kept_on_update(field.first, stored)) out.push_back(field);
    return out;
}

// The server's 304 to our revalidation (§4.3.4): the stored entry, under
// the key it was found (its variant), gets the updated headers and a new
// freshness, and keeps its body (shared, not copied). The client gets that
// entry as a 200 through the ordinary response path, the 304's empty body
// standing for the stored one, so the server connection stays reusable.
FilterResult refresh(Exchange& ex, int64_t now, std::vector<std::string> tags) {
    CacheRequest& cache = ex.cache;
    const CacheObject& stale = *cache.stale;
    ResponseInfo merged;
    merged.status = stale.status;
    merged.headers = updated_headers(stale.headers, ex.response.headers);
    StoreDecision decision = decide_store(cache.view, merged, ex.route->cache, now);
    auto object = make_object(merged, decision, now);
    object->body = stale.body;
    object->vary = stale.vary;  // the variant stays the one it was found as
    // A 304 without the tag header leaves the entry's tags as they were.
    object->tags = tags.empty() ? stale.tags : std::move(tags);
    if (decision.store) cache.zone->insert(cache.stale_key, object);
    if (cache.fill) cache.fill->end(!decision.store);
    cache.status = CacheStatus::kRevalidated;
    if (!cache.background) cache.zone->counters().hits.fetch_add(1, std::memory_order_relaxed);

    ResponseInfo& response = ex.response;
    response.status = object->status;
    response.reason = reason_phrase(object->status);
    // The merged fields, not the stored ones: what the filters before this
    // one gave this client alone (a stickiness Set-Cookie) is not stored.
    response.headers = std::move(merged.headers);
    response.headers.emplace_back("Content-Length", std::to_string(object->body_size()));
    response.headers.emplace_back("Age", std::to_string(cache_current_age(*object, now)));
    // A HEAD's response has no body, whatever its Content-Length says.
    response.framing = ex.request.method_kind == HttpMethod::kHead ? BodyFraming::kNone : BodyFraming::kContentLength;
    ex.body_filters.push_back(std::make_unique<StoredBody>(object->body));
    add_status_headers(response.headers, ex.route->cache, cache.status);
    return FilterResult::next();
}

}  // namespace

// A paused miss (collapsing). Owned by its exchange (CacheRequest::wait);
// the wake-up task holds it weakly, so an exchange that ended meanwhile is
// simply not resumed. Its timer bounds the wait.
struct CacheWait {
    Exchange* exchange = nullptr;
    ExchangeResumer resumer;
    EventPtr timer;
    Worker* worker = nullptr;
    std::string key;         // the fill waited for: the base key, or a variant's
    uint64_t deadline_ms = 0;  // monotonic: the bound of the whole wait, re-waits included
};

namespace {

// The longest a request waits for another's fill before it goes to the
// server itself (nginx's proxy_cache_lock_timeout default), and at most
// half the server response timeout, which the exchange's own timer holds
// a paused request to (504): the bound must end first.
constexpr uint32_t kMaxCollapseWaitMs = 5000;

uint32_t collapse_wait_ms(uint32_t server_response_ms) {
    if (server_response_ms == 0) return kMaxCollapseWaitMs;
    return std::clamp<uint32_t>(server_response_ms / 2, 1, kMaxCollapseWaitMs);
}

// The request goes to the server with the stored `stale` (found under
// `stale_key`) to revalidate, if it has a validator (§4.3.1).
void revalidate(Exchange& ex, CacheObjectPtr stale, std::string stale_key) {
    ex.cache.status = CacheStatus::kExpired;
    ex.cache.fallback = stale;  // kept, validators or not, for stale-if-error
    if (!add_validators(ex.request, *stale)) return;
    ex.cache.stale = std::move(stale);
    ex.cache.stale_key = std::move(stale_key);
}

void resume_waiter(CacheWait& wait, bool timed_out);
void on_wait_timeout(evutil_socket_t, short, void* arg) { resume_waiter(*static_cast<CacheWait*>(arg), true); }

// Joins the fill of `key` for `ex` (collapsing): the base key, or, once the
// key is known to vary (its marker is stored), the variant the request
// selects, so that each variant is fetched once for the requests that
// select it and none waits for a response it cannot use. kFill: `ex` holds
// the fill. kWait: `ex` is paused in ex.cache.wait until the fill ends or
// `deadline_ms` (monotonic) comes; `resumer` (null: a new one) resumes it.
FillRole join_collapse(Exchange& ex, CacheZone& zone, Worker& worker, std::string key, uint64_t deadline_ms,
                       const ExchangeResumer* resumer) {
    auto wait = std::make_shared<CacheWait>();
    std::weak_ptr<CacheWait> weak = wait;
    Worker* on = &worker;
    const uint64_t now = monotonic_ms();
    // `wake` runs on the filler's thread; the waiter is resumed on its own.
    // It cannot run before this returns: the task needs this worker's loop.
    const FillRole role = zone.join_fill(key, now, [weak, on] {
        on->post([weak] {
            if (std::shared_ptr<CacheWait> w = weak.lock()) resume_waiter(*w, false);
        });
    });
    if (role == FillRole::kFill) ex.cache.fill = std::make_shared<CacheFillTicket>(zone, std::move(key));
    if (role != FillRole::kWait) return role;
    wait->exchange = &ex;
    wait->resumer = resumer != nullptr ? *resumer : ex.resumer();
    wait->worker = &worker;
    wait->key = std::move(key);
    wait->deadline_ms = deadline_ms;
    // Bounded: past it the waiter fetches for itself, as the issue and
    // nginx's cache lock do, instead of the exchange's 504.
    wait->timer = make_event(worker.base(), -1, 0, &on_wait_timeout, wait.get());
    arm_timer(wait->timer.get(), static_cast<uint32_t>(deadline_ms > now ? deadline_ms - now : 1));
    ex.cache.wait = std::move(wait);
    return role;
}

// On the waiter's worker, once the fill it waited for ended or its wait ran
// out: the stored response if fresh now; else, when the fill turned out to
// be another variant's than this request selects, a wait (or the fill) for
// its own variant within what is left of the bound; else on to the server
// itself (revalidating what is stored, if anything).
void resume_waiter(CacheWait& wait, bool timed_out) {
    Exchange& ex = *wait.exchange;
    if (timed_out) ex.cache.zone->counters().collapse_timeouts.fetch_add(1, std::memory_order_relaxed);
    const ExchangeResumer resumer = wait.resumer;
    const std::string waited = std::move(wait.key);
    Worker& worker = *wait.worker;
    const uint64_t deadline_ms = wait.deadline_ms;
    ex.cache.wait.reset();  // `wait` and its timer are gone from here on
    CacheZone& zone = *ex.cache.zone;
    const int64_t now = now_s();
    std::string found;
    CacheObjectPtr object = cache_find(zone, ex.cache.key, ex.cache.view, &found);
    if (object != nullptr && cache_fresh(*object, now)) {
        ex.cache.status = CacheStatus::kHit;
        zone.counters().hits.fetch_add(1, std::memory_order_relaxed);
        return resumer(FilterResult::respond(cache_answer(ex, object, now)));
    }
    if (!timed_out && found != waited && (object == nullptr || !object->revalidate) && monotonic_ms() < deadline_ms &&
        join_collapse(ex, zone, worker, found, deadline_ms, &resumer) == FillRole::kWait)
        return;
    zone.counters().misses.fetch_add(1, std::memory_order_relaxed);
    if (object != nullptr) revalidate(ex, std::move(object), std::move(found));
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

CacheObjectPtr cache_find(CacheZone& zone, const std::string& key, const RequestInfo& request, std::string* found) {
    CacheObjectPtr object = zone.find(key);
    if (object == nullptr || !object->is_vary_marker()) {
        if (found != nullptr) *found = key;
        return object;
    }
    std::string variant = cache_variant_key(key, object->vary, request);
    object = zone.find(variant);
    if (found != nullptr) *found = std::move(variant);
    return object;
}

LocalAnswer cache_answer(const Exchange& exchange, const CacheObjectPtr& object, int64_t now) {
    LocalAnswer answer;
    answer.headers.reserve(3);  // Age, X-Cache, X-Cache-Status: one allocation
    answer.as_stored = true;
    answer.term = Termination::kOk;
    if (client_not_modified(exchange.request, *object)) {
        answer.status = 304;
        for (const auto& [name, value] : object->headers)
            for (std::string_view keep : kNotModifiedFields)
                if (iequals(name, keep)) answer.headers.emplace_back(name, value);
    } else {
        answer.status = object->status;
        // Aliasing: the fields live as long as the object, which the answer
        // holds; they are written as they are, not copied per hit.
        answer.stored_lines = std::shared_ptr<const std::string>(object, &object->head_lines);
        answer.stored_headers = std::shared_ptr<const HeaderList>(object, &object->headers);
        answer.shared_body = object->body;
    }
    answer.headers.emplace_back("Age", std::to_string(cache_current_age(*object, now)));
    add_status_headers(answer.headers, exchange.route->cache, exchange.cache.status);
    return answer;
}

LocalAnswer stale_answer(Exchange& ex, int64_t now) {
    ex.cache.status = CacheStatus::kStale;
    // The waiters of this request's fill look the key up again (and find the stale entry too).
    if (ex.cache.fill) ex.cache.fill->end(false);
    return cache_answer(ex, ex.cache.fallback, now);
}

FilterResult CacheStoreFilter::on_server_failure(Exchange& ex, const ProxyError& error) {
    CacheRequest& cache = ex.cache;
    if (cache.fallback == nullptr || error.source != ErrorSource::kServer) return FilterResult::next();
    const bool timeout = error.cause == ErrorCause::kResponseTimeout;
    const int64_t now = now_s();
    if (!cache_stale_usable(*cache.fallback, ex.route->cache, timeout ? kStaleOnTimeout : kStaleOnError, now))
        return FilterResult::next();
    (timeout ? cache.zone->counters().stale_timeout : cache.zone->counters().stale_error)
        .fetch_add(1, std::memory_order_relaxed);
    return FilterResult::respond(stale_answer(ex, now));
}

CacheLookupFilter::CacheLookupFilter(const ListenerCaches& caches, L7Worker& worker, HttpListener& listener)
    : caches_(caches), worker_(worker.worker()), refreshes_(std::make_unique<CacheRefreshes>(worker, listener)) {}

CacheLookupFilter::~CacheLookupFilter() = default;

void cache_prepare_refresh(Exchange& refresh, const Exchange& from, CacheObjectPtr stale, std::string stale_key,
                           std::shared_ptr<CacheFillTicket> fill) {
    RequestInfo& request = refresh.request;
    request = from.request;
    // As the client sent it: the route's rewrite applies again on the way.
    if (!from.original_path.empty()) request.path = from.original_path;
    request.method = "GET";  // a HEAD's stale answer is refreshed by the GET that is stored
    request.method_kind = HttpMethod::kGet;
    std::erase_if(request.headers, [](const auto& field) {
        return iequals(field.first, "if-none-match") || iequals(field.first, "if-modified-since");
    });
    CacheRequest& cache = refresh.cache;
    cache.background = true;
    cache.zone = from.cache.zone;
    cache.key = from.cache.key;
    cache.may_store = true;
    cache.status = CacheStatus::kExpired;
    cache.view.method_kind = HttpMethod::kGet;
    cache.view.path = from.request.path;
    cache.view.headers = request.headers;
    cache.fill = std::move(fill);
    if (!add_validators(request, *stale)) return;
    cache.stale = std::move(stale);
    cache.stale_key = std::move(stale_key);
}

FilterResult CacheLookupFilter::updating(Exchange& ex, CacheZone& zone, CacheObjectPtr stale, std::string stale_key,
                                         int64_t now) {
    // An empty wake: a fill under way (a refresh, or a fetch) is not waited for.
    // Per variant (`stale_key`): a refresh of one variant does not hold back another's.
    if (zone.join_fill(stale_key, monotonic_ms(), {}) == FillRole::kFill) {
        auto fill = std::make_shared<CacheFillTicket>(zone, stale_key);
        CacheRefresh& refresh = refreshes_->add(ex.client);
        cache_prepare_refresh(refresh.exchange(), ex, stale, std::move(stale_key), std::move(fill));
        zone.counters().refreshes.fetch_add(1, std::memory_order_relaxed);
    }
    ex.cache.status = CacheStatus::kUpdating;
    zone.counters().stale_updating.fetch_add(1, std::memory_order_relaxed);
    return FilterResult::respond(cache_answer(ex, stale, now));
}

FilterResult CacheLookupFilter::on_request_head(Exchange& ex) {
    // A background refresh was set up by its maker (cache_prepare_refresh).
    if (ex.cache.background) return FilterResult::next();
    CacheZone* zone = caches_.zone(ex.route);
    if (zone == nullptr) return FilterResult::next();
    CacheRequest& cache = ex.cache;
    cache.zone = zone;
    if (cache_bypass_reason(ex.request, ex.route->cache, trusted_proxy(caches_.http().forwarded, ex.client.peer))) {
        cache.status = CacheStatus::kBypass;
        return FilterResult::next();
    }
    cache.key = cache_key(ex.request, ex.client.scheme, ex.route->cache);
    cache.may_store = true;
    cache.status = CacheStatus::kMiss;
    const int64_t now = now_s();
    // RFC 9111 §3.5: a stored response answers a request with Authorization
    // only if it was stored from such a request with public/s-maxage; the
    // zone does not keep that distinction, so these always go to the server.
    const bool authorized = find_header(ex.request.headers, "authorization") != nullptr;
    std::string found;
    CacheObjectPtr object = authorized ? nullptr : cache_find(*zone, cache.key, ex.request, &found);
    if (object != nullptr && cache_fresh(*object, now)) {
        cache.status = CacheStatus::kHit;
        zone->counters().hits.fetch_add(1, std::memory_order_relaxed);
        return FilterResult::respond(cache_answer(ex, object, now));
    }
    if (object != nullptr && cache_stale_usable(*object, ex.route->cache, kStaleOnUpdating, now))
        return updating(ex, *zone, std::move(object), std::move(found), now);
    // Not answered here: what the store will key by, before the request
    // header actions and our validators change the request (a miss only).
    cache.view.method_kind = ex.request.method_kind;
    cache.view.path = ex.request.path;
    cache.view.headers = ex.request.headers;
    // Only a GET's response is stored, so only a GET fetches for others;
    // a stale entry too is fetched (revalidated) once for all (collapse),
    // except a no-cache one: each use is validated anyway (§5.2.2.4), so
    // waiting for another's 304 would only add its delay.
    if (authorized || ex.request.method_kind != HttpMethod::kGet || (object != nullptr && object->revalidate)) {
        zone->counters().misses.fetch_add(1, std::memory_order_relaxed);
        if (object != nullptr) revalidate(ex, std::move(object), std::move(found));
        return FilterResult::next();
    }
    return collapse(ex, *zone, std::move(object), std::move(found));
}

FilterResult CacheLookupFilter::collapse(Exchange& ex, CacheZone& zone, CacheObjectPtr stale, std::string stale_key) {
    // `stale_key`: the key the lookup went to, the variant's when the key is known to vary.
    const uint64_t deadline_ms =
        monotonic_ms() + collapse_wait_ms(effective_timeouts(caches_.http(), ex).server_response_ms);
    if (join_collapse(ex, zone, worker_, stale_key, deadline_ms, nullptr) == FillRole::kWait)
        return FilterResult::pause();
    zone.counters().misses.fetch_add(1, std::memory_order_relaxed);
    if (stale != nullptr) revalidate(ex, std::move(stale), std::move(stale_key));
    return FilterResult::next();
}

FilterResult CacheStoreFilter::on_response_head(Exchange& ex) {
    CacheRequest& cache = ex.cache;
    if (cache.zone == nullptr) return FilterResult::next();
    const int64_t now = now_s();
    // Taken (and stripped, by default) whether or not the response is stored.
    std::vector<std::string> tags = cache_take_tags(cache.zone->config(), ex.response.headers);
    if (cache.stale != nullptr && ex.response.status == 304) return refresh(ex, now, std::move(tags));
    // stale-if-error on a 500/502/503/504: the stored copy instead, at once
    // (the server's body and its connection are dropped).
    if (cache.fallback != nullptr &&
        cache_stale_usable(*cache.fallback, ex.route->cache, cache_stale_on_status(ex.response.status), now)) {
        cache.zone->counters().stale_status.fetch_add(1, std::memory_order_relaxed);
        return FilterResult::respond(stale_answer(ex, now));
    }
    if (!cache.may_store) {
        // Not stored this time (the compression filter left this body as it
        // was for this request only): waiters go to the server now.
        if (cache.fill) cache.fill->end(false);
    } else {
        StoreDecision decision = decide_store(cache.view, ex.response, ex.route->cache, now);
        const std::string* length = find_header(ex.response.headers, "content-length");
        if (decision.store && length != nullptr &&
            std::strtoull(length->c_str(), nullptr, 10) > cache.zone->config().max_object_bytes) {
            cache.zone->counters().too_large.fetch_add(1, std::memory_order_relaxed);
            decision.store = false;
        }
        // By content: a string literal's address may differ between translation
        // units (ASan builds do not merge them).
        if (std::string_view(decision.why) == kNotStoredExtensionMismatch)
            cache.zone->counters().extension_mismatch.fetch_add(1, std::memory_order_relaxed);
        if (decision.store) {
            std::shared_ptr<CacheObject> object = make_object(ex.response, decision, now);
            object->tags = std::move(tags);
            std::string key = object->vary.empty() ? cache.key : cache_variant_key(cache.key, object->vary, cache.view);
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
