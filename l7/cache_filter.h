// The response cache as two filters (filter.h) around the upstream phase:
//
//   request head --> [router] --> [CacheLookupFilter] --> ... --> server
//                                  fresh: answer from the zone (HIT, Age),
//                                  304 to a matching client conditional;
//                                  stale with a validator: add If-None-Match /
//                                  If-Modified-Since and go on (EXPIRED);
//                                  a miss or a stale entry another request
//                                  fetches: wait for it (bounded)
//   response head --> ... [compression] --> [CacheStoreFilter] --> client
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

#include <string>
#include <vector>

#include "core/loop/worker.h"
#include "core/state/cache_store.h"
#include "l7/body_filter.h"
#include "l7/filter.h"

namespace lbd::l7 {

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
class CacheLookupFilter final : public RequestFilter {
public:
    CacheLookupFilter(const ListenerCaches& caches, Worker& worker) : caches_(caches), worker_(worker) {}
    FilterResult on_request_head(Exchange& exchange) override;

private:
    // `stale` (under `stale_key`): what is stored for the key, expired; null for a cold key.
    FilterResult collapse(Exchange& exchange, CacheZone& zone, CacheObjectPtr stale, std::string stale_key);

    const ListenerCaches& caches_;
    Worker& worker_;
};

class CacheStoreFilter final : public ResponseFilter {
public:
    FilterResult on_response_head(Exchange& exchange) override;
};

// The stored response `object` as the answer to `exchange`'s request, or a
// 304 when the client's conditional holds; with Age and the X-Cache fields.
LocalAnswer cache_answer(const Exchange& exchange, const CacheObjectPtr& object, int64_t now_s);

// The object under `key` in `zone` that `request` selects (through a Vary
// marker to its variant), or null; `found` (if set): the key it is under.
CacheObjectPtr cache_find(CacheZone& zone, const std::string& key, const RequestInfo& request,
                          std::string* found = nullptr);

}  // namespace lbd::l7
