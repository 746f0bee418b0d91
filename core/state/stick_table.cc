// StickTable: a sharded map with LRU eviction and TTL; the contract is in stick_table.h.
//
// Each shard holds a std::list of nodes (most recently used at the front) and an
// unordered_map from key to list node. list::splice moves a node to the front in
// O(1) and never invalidates the iterators held by the map.
//
// expire() and the order of the list
// -----------------------------------
// If every entry got the full TTL when put at the front, the list in recency
// order would also be in expiry order, and expire() could stop at the first
// live node it finds walking from the tail. apply() breaks this: a peer's entry arrives with a
// shorter TTL, so a node near the front can expire before nodes behind it. The
// shard tracks this instead of scanning the whole list on every expire():
//
//   max_expiry_ms    the latest expiry ever put at the front. A node put at the
//                    front with an expiry >= this one is in order with all the
//                    nodes behind it, because none of them expires later.
//   unordered,       set when a node goes to the front with an earlier expiry
//   unordered_until  (apply() with a short TTL), with the latest such expiry.
//
// While `unordered` is set, expire() scans the whole shard. A scan at
// now >= unordered_until has removed every node that was put out of order
// (they had all expired; a node refreshed since then was moved to the front
// in order), and removing nodes keeps the rest of the list sorted, so the
// flag is cleared and expire() goes back to walking from the tail.
//
// set() and lookup() keep the order by never giving an expiry below
// max_expiry_ms. Workers read the clock before taking the shard lock, so a
// worker can arrive with a now_ms a few milliseconds behind one that took the
// lock first; its entry then lives those few milliseconds longer. The TTL is
// the same for every local entry and apply() caps TTLs at it, so
// max_expiry_ms is never more than the latest now_ms + ttl_ms and the
// extension is never more than that lag.
#include "core/state/stick_table.h"

#include <algorithm>
#include <condition_variable>
#include <limits>

#include "core/base/hash.h"

namespace lbd {

struct StickTable::Shard {
    struct Node {
        // Also the map's key; kept here to find the map entry of the LRU tail.
        std::string key;
        std::string server;
        uint64_t expires_at_ms = 0;
        // The expiry the listener (the HA peer) last heard of; see lookup().
        uint64_t reported_expiry_ms = 0;
    };
    using List = std::list<Node>;
    using Index = std::unordered_map<std::string, List::iterator, ShardKeyHash, std::equal_to<>>;

    explicit Shard(size_t cap) : capacity(cap) {}

    // Expiry for an entry (re)put at the front by set() or lookup(); see the
    // top of the file for why it is never below max_expiry_ms.
    uint64_t in_order_expiry(uint64_t wanted) const { return std::max(wanted, max_expiry_ms); }

    // Moves `node` to the front with the expiry given. Needs `mu`.
    void to_front(List::iterator node, uint64_t expires_at_ms) {
        node->expires_at_ms = expires_at_ms;
        lru.splice(lru.begin(), lru, node);
        note_front(expires_at_ms);
    }

    void note_front(uint64_t expires_at_ms) {
        if (expires_at_ms >= max_expiry_ms) {
            max_expiry_ms = expires_at_ms;
        } else {
            unordered = true;
            unordered_until_ms = std::max(unordered_until_ms, expires_at_ms);
        }
    }

    // Maps key -> server, expiring at `expires_at_ms`. Makes room first when
    // the key is new and the shard is full. Needs `mu`.
    void put(std::string_view key, std::string_view server, uint64_t expires_at_ms, uint64_t now_ms) {
        auto found = index.find(key);
        if (found != index.end()) {
            found->second->server.assign(server);
            found->second->reported_expiry_ms = expires_at_ms;
            to_front(found->second, expires_at_ms);
            return;
        }
        make_room(now_ms);
        lru.push_front(Node{std::string(key), std::string(server), expires_at_ms, expires_at_ms});
        index.emplace(lru.front().key, lru.begin());
        note_front(expires_at_ms);
    }

    // Frees one slot when the shard is full. Expired nodes at the tail go
    // first and are not counted: an eviction is a live entry lost to
    // capacity, which is what the counter is there to show.
    void make_room(uint64_t now_ms) {
        while (index.size() >= capacity && !lru.empty()) {
            bool live = lru.back().expires_at_ms > now_ms;
            remove(std::prev(lru.end()));
            if (live) ++evictions;
        }
    }

    // Needs `mu`.
    void remove(List::iterator node) {
        index.erase(index.find(node->key));
        lru.erase(node);
        if (lru.empty()) unordered = false;
    }

    // Drops the expired nodes; returns how many. Needs `mu`.
    size_t expire(uint64_t now_ms) {
        size_t dropped = 0;
        if (unordered) {
            for (auto node = lru.begin(); node != lru.end();) {
                auto next = std::next(node);
                if (node->expires_at_ms <= now_ms) {
                    remove(node);
                    ++dropped;
                }
                node = next;
            }
            if (now_ms >= unordered_until_ms) unordered = false;
        } else {
            while (!lru.empty() && lru.back().expires_at_ms <= now_ms) {
                remove(std::prev(lru.end()));
                ++dropped;
            }
        }
        return dropped;
    }

    // Guards lru, index, evictions, the expiry fields and next_ticket.
    std::mutex mu;
    List lru;
    Index index;
    const size_t capacity;
    uint64_t evictions = 0;
    uint64_t max_expiry_ms = 0;
    bool unordered = false;
    uint64_t unordered_until_ms = 0;

    // Reports changes to the listener in the order they were made, with no
    // lock held while it runs. set() and erase() take a ticket under `mu`, in
    // the order of their changes, release `mu`, and call the listener when
    // `now_serving` reaches their ticket. Without the order, two set()s of one
    // key from two workers could be reported the other way round and the peer
    // would keep the older server. Without `mu` held, lookup() never waits
    // for the listener, and the listener may read the table (but not set() or
    // erase(): that change would wait for the listener's own turn to end).
    // Holding notify_mu across the call instead (taken before `mu` is
    // released) would also keep the order, but a listener that reads the
    // table would then take `mu` under notify_mu while set() takes them the
    // other way round: a deadlock.
    uint64_t next_ticket = 0;  // guarded by `mu`
    std::mutex notify_mu;
    std::condition_variable notify_cv;
    uint64_t now_serving = 0;  // guarded by notify_mu

    void report(uint64_t ticket, const ChangeListener& listener, const StickChange& change) {
        {
            std::unique_lock lock(notify_mu);
            notify_cv.wait(lock, [&] { return now_serving == ticket; });
        }
        // Passes the turn on even if the listener throws, or every later
        // change of this shard would wait forever.
        struct NextTicket {
            Shard& shard;
            ~NextTicket() {
                {
                    std::lock_guard lock(shard.notify_mu);
                    ++shard.now_serving;
                }
                shard.notify_cv.notify_all();
            }
        } next{*this};
        listener(change);
    }
};

StickTable::StickTable(std::string name, uint32_t ttl_ms, size_t capacity, size_t shard_count)
    : name_(std::move(name)), ttl_ms_(ttl_ms), capacity_(capacity) {
    // Each shard keeps at least one entry, so more shards than `capacity`
    // would let the table grow past it; use fewer shards instead.
    size_t shards = std::clamp<size_t>(shard_count, 1, std::max<size_t>(capacity, 1));
    size_t per_shard = std::max<size_t>(capacity / shards, 1);
    shards_.reserve(shards);
    for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(per_shard));
}

StickTable::~StickTable() = default;

StickTable::Shard& StickTable::shard_for(std::string_view key) const {
    return *shards_[hash64(key) % shards_.size()];
}

// A lookup refreshes the TTL here, and the peer's copy would still expire
// on its old schedule: an active client would lose its stickiness at a
// failover once TTL passed since its first connection. So the refresh is
// reported as a set, but only when it moved the expiry by more than half a
// TTL since the last report: at most two reports per TTL per active key,
// and the peer's copy never has less than half a TTL left.
std::optional<std::string> StickTable::lookup(std::string_view key, uint64_t now_ms) {
    Shard& shard = shard_for(key);
    uint64_t ticket = 0;
    StickChange refresh;
    {
        std::lock_guard lock(shard.mu);
        auto found = shard.index.find(key);
        if (found == shard.index.end()) return std::nullopt;
        auto node = found->second;
        if (node->expires_at_ms <= now_ms) {
            // Not reported: the peer's copy expires by itself.
            shard.remove(node);
            return std::nullopt;
        }
        shard.to_front(node, shard.in_order_expiry(now_ms + ttl_ms_));
        if (!listener_ || node->expires_at_ms - node->reported_expiry_ms <= ttl_ms_ / 2) return node->server;
        node->reported_expiry_ms = node->expires_at_ms;
        ticket = shard.next_ticket++;
        refresh = StickChange{StickChange::Kind::kSet, node->key, node->server, ttl_ms_};
    }
    shard.report(ticket, listener_, refresh);
    return std::move(refresh.server);
}

void StickTable::set(std::string_view key, std::string_view server, uint64_t now_ms) {
    Shard& shard = shard_for(key);
    uint64_t ticket = 0;
    {
        std::lock_guard lock(shard.mu);
        shard.put(key, server, shard.in_order_expiry(now_ms + ttl_ms_), now_ms);
        if (!listener_) return;
        ticket = shard.next_ticket++;
    }
    shard.report(ticket, listener_,
                 StickChange{StickChange::Kind::kSet, std::string(key), std::string(server), ttl_ms_});
}

void StickTable::erase(std::string_view key) {
    Shard& shard = shard_for(key);
    uint64_t ticket = 0;
    {
        std::lock_guard lock(shard.mu);
        auto found = shard.index.find(key);
        if (found == shard.index.end()) return;
        shard.remove(found->second);
        if (!listener_) return;
        ticket = shard.next_ticket++;
    }
    shard.report(ticket, listener_, StickChange{StickChange::Kind::kErase, std::string(key), {}, 0});
}

void StickTable::clear() {
    for (auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        shard->index.clear();
        shard->lru.clear();
        shard->unordered = false;
    }
}

std::vector<StickEntry> StickTable::snapshot(uint64_t now_ms) const {
    std::vector<StickEntry> entries;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        // Least recently used first: a peer that apply()s the entries in this
        // order puts each at the front of its LRU list and so ends with the
        // same order, and with the same expiry order, so its expire() needs
        // no full scans.
        for (auto node = shard->lru.rbegin(); node != shard->lru.rend(); ++node) {
            if (node->expires_at_ms <= now_ms) continue;
            uint64_t remaining = node->expires_at_ms - now_ms;
            entries.push_back(StickEntry{
                node->key, node->server,
                static_cast<uint32_t>(std::min<uint64_t>(remaining, std::numeric_limits<uint32_t>::max()))});
        }
    }
    return entries;
}

void StickTable::apply(const StickChange& change, uint64_t now_ms) {
    Shard& shard = shard_for(change.key);
    std::lock_guard lock(shard.mu);
    uint32_t ttl = std::min(change.ttl_remaining_ms, ttl_ms_);
    if (change.kind == StickChange::Kind::kSet && ttl > 0) {
        // The peer's remaining TTL as is, not in_order_expiry(): the entry
        // must expire when it does on the peer.
        shard.put(change.key, change.server, now_ms + ttl, now_ms);
        return;
    }
    // kErase, or a kSet that has already expired on the peer.
    auto found = shard.index.find(change.key);
    if (found != shard.index.end()) shard.remove(found->second);
}

size_t StickTable::expire(uint64_t now_ms) {
    size_t dropped = 0;
    for (auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        dropped += shard->expire(now_ms);
    }
    return dropped;
}

size_t StickTable::size() const {
    size_t total = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        total += shard->index.size();
    }
    return total;
}

uint64_t StickTable::evictions() const {
    uint64_t total = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mu);
        total += shard->evictions;
    }
    return total;
}

void StickTable::set_change_listener(ChangeListener listener) { listener_ = std::move(listener); }

}  // namespace lbd
