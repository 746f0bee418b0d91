// The response cache as two filters (filter.h) around the upstream phase:
//
//   request head --> [router] --> [CacheLookupFilter] --> ... --> server
//                                  fresh: answer from the zone (HIT, Age),
//                                  304 to a matching client conditional;
//                                  stale within stale-while-revalidate:
//                                  answer (UPDATING), one background refresh;
//                                  stale with a validator: add If-None-Match /
//                                  If-Modified-Since and go on (EXPIRED);
//                                  a miss or a stale entry another request
//                                  fetches: wait for it (bounded)
//   response head --> ... [compression] --> [CacheStoreFilter] --> client
//                                            500/502/503/504 with a stale entry in
//                                            its stale-if-error window: that entry
//                                            (STALE);
//                                            304 to our revalidation: refresh the
//                                            entry, send it as the response with
//                                            the stored body (REVALIDATED);
//                                            storable: a CacheFill body stage
//                                            copies the body as it streams and
//                                            stores it at its end
//
// The store filter is the last response filter, so what is stored is what a
// client of that encoding gets (the compression filter's Vary:
// Accept-Encoding selects the variant). The rules are cache_policy.h; the
// memory core/state/cache_store.h.
//
// Built per listener per worker; worker thread only. The zones are shared.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/loop/worker.h"
#include "core/state/cache_store.h"
#include "l7/body_filter.h"
#include "l7/filter.h"
#include "l7/proxy_error.h"

namespace lbd::l7 {

class CacheRefreshes;
class HttpListener;
class L7Worker;

// The zone of each route of `http` (null: the route does not cache),
// resolved once per listener.
class ListenerCaches {
public:
    ListenerCaches(const CacheZones& zones, const HttpConfig& http);
    CacheZone* zone(const HttpRouteConfig* route) const;
    const HttpConfig& http() const { return http_; }

private:
    const HttpConfig& http_;
    std::vector<CacheZone*> by_route_;
};

// A miss on a key another request is fetching, or a request for a stale
// entry another request is revalidating, pauses (FilterResult::pause)
// until that fetch ends, then is resumed on its own worker (`worker`'s task
// queue) with the stored response, or sent to the server if there is none
// fresh; a wait that lasts past its bound (half the server response
// timeout, at most 5 s) sends the request to the server itself.
//
// Vary: misses collapse on the base key until a response says the key
// varies (its marker is stored); from then on each joins the fill of the
// variant it selects. A waiter the first response does not match (another
// variant) is not answered with it: it joins its own variant's fill within
// what is left of its bound. Vary: * is never stored, so its waiters go to
// the server at once (hit-for-miss).
//
// A stale entry within its stale-while-revalidate window is the answer at
// once (UPDATING); the first such request starts a background refresh
// (cache_refresh.h) unless one runs for the key.
class CacheLookupFilter final : public RequestFilter {
public:
    CacheLookupFilter(const ListenerCaches& caches, L7Worker& worker, HttpListener& listener);
    ~CacheLookupFilter() override;
    FilterResult on_request_head(Exchange& exchange) override;

private:
    // `stale` (under `stale_key`): what is stored for the key, expired; null for a cold key.
    FilterResult collapse(Exchange& exchange, CacheZone& zone, CacheObjectPtr stale, std::string stale_key);
    FilterResult updating(Exchange& exchange, CacheZone& zone, CacheObjectPtr stale, std::string stale_key,
                          int64_t now_s);

    const ListenerCaches& caches_;
    Worker& worker_;
    std::unique_ptr<CacheRefreshes> refreshes_;
};

class CacheStoreFilter final : public ResponseFilter {
public:
    FilterResult on_response_head(Exchange& exchange) override;
    // stale-if-error (RFC 5861) for a failure before any response head: the
    // stale entry the lookup kept (X-Cache-Status STALE), when its window and
    // the route's use_stale allow.
    FilterResult on_server_failure(Exchange& exchange, const ProxyError& error) override;
};

// The stored response `object` as the answer to `exchange`'s request, or a
// 304 when the client's conditional holds; with Age and the X-Cache fields.
LocalAnswer cache_answer(const Exchange& exchange, const CacheObjectPtr& object, int64_t now_s);

// The kept stale entry as the answer (X-Cache-Status STALE); also ends
// this request's fill, if it had one, for its waiters.
LocalAnswer stale_answer(Exchange& exchange, int64_t now_s);

// Makes `refresh` (a background exchange, cache_refresh.h) the GET that
// refreshes `stale` (stored under `stale_key`) for `from`'s key: the
// client's request as it sent it, its conditionals replaced by the entry's
// validators, holding the key's `fill`.
void cache_prepare_refresh(Exchange& refresh, const Exchange& from, CacheObjectPtr stale, std::string stale_key,
                           std::shared_ptr<CacheFillTicket> fill);

// The object under `key` in `zone` that `request` selects (through a Vary
// marker to its variant), or null; `found` (if set): the key it is under.
CacheObjectPtr cache_find(CacheZone& zone, const std::string& key, const RequestInfo& request,
                          std::string* found = nullptr);

}  // namespace lbd::l7
