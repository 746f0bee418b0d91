// What the cache knows about one exchange (kept on the Exchange, as
// filter.h asks of per-request state): the zone, the key, what the lookup
// found. Plain types, cheap to include.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/base/clock.h"
#include "core/state/cache_store.h"
#include "l7/http_message.h"

namespace lbd::l7 {

// X-Cache-Status (nginx's $upstream_cache_status names).
enum class CacheStatus : uint8_t {
    kNone,         // the route does not cache
    kHit,          // answered from the zone, fresh
    kMiss,         // not in the zone (or not looked up: Authorization)
    kExpired,      // in the zone but stale: fetched again
    kRevalidated,  // stale, the server answered 304: served from the zone, refreshed
    kBypass,       // a bypass rule, a method or a body: the zone is not used
    kStale,        // stale, sent instead of a server failure (stale-if-error)
    kUpdating,     // stale, sent while a background request refreshes it (stale-while-revalidate)
};

inline const char* to_string(CacheStatus status) {
    switch (status) {
        case CacheStatus::kNone: return "-";
        case CacheStatus::kHit: return "HIT";
        case CacheStatus::kMiss: return "MISS";
        case CacheStatus::kExpired: return "EXPIRED";
        case CacheStatus::kRevalidated: return "REVALIDATED";
        case CacheStatus::kBypass: return "BYPASS";
        case CacheStatus::kStale: return "STALE";
        case CacheStatus::kUpdating: return "UPDATING";
    }
    return "-";
}

// Held by the request that fetches a key for others (collapsing): ends the
// fill once, and at the latest when the last holder (the exchange, its
// body stage) goes, so waiters are never left behind.
class CacheFillTicket {
public:
    CacheFillTicket(CacheZone& zone, std::string key) : zone_(&zone), key_(std::move(key)) {}
    ~CacheFillTicket() { end(false); }
    CacheFillTicket(const CacheFillTicket&) = delete;
    CacheFillTicket& operator=(const CacheFillTicket&) = delete;
    void end(bool uncacheable) {
        if (zone_ == nullptr) return;
        zone_->end_fill(key_, uncacheable, monotonic_ms());
        zone_ = nullptr;
    }

private:
    CacheZone* zone_;
    const std::string key_;
};

struct CacheWait;  // cache_filter.cc: a paused miss waiting for another's fill

struct CacheRequest {
    CacheZone* zone = nullptr;  // set when the route caches
    CacheStatus status = CacheStatus::kNone;
    bool may_store = false;
    std::string key;       // the base key (before a Vary variant)
    // The request as the lookup read it (the client's, after the route's
    // path rewrite, before the request header actions and our validators),
    // copied when the request goes to the server: the store picks the
    // variant and applies Authorization by the same view the lookup used.
    RequestInfo view;
    CacheObjectPtr stale;    // the stored response being revalidated with the server
    std::string stale_key;   // the key it was found under (its variant's): a 304 refreshes it there
    // What the lookup found stored but stale, validators or not: sent in
    // place of a server failure if its stale-if-error window allows
    // (CacheStoreFilter::on_server_failure, and a 5xx in its on_response_head).
    CacheObjectPtr fallback;
    // A background refresh (cache_refresh.h): set up by its maker, not looked up.
    bool background = false;
    std::shared_ptr<CacheFillTicket> fill;  // this request fetches the key for waiters
    std::shared_ptr<CacheWait> wait;        // this request waits for another's fetch
};

}  // namespace lbd::l7
