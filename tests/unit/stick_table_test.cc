// Unit tests of StickTable. Time is passed in explicitly (now_ms), so the
// tests never sleep.
#include "core/state/stick_table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace lbd {
namespace {

std::set<std::string> keys_of(const std::vector<StickEntry>& entries) {
    std::set<std::string> keys;
    for (const auto& entry : entries) keys.insert(entry.key);
    return keys;
}

std::map<std::string, StickEntry> by_key(const std::vector<StickEntry>& entries) {
    std::map<std::string, StickEntry> out;
    for (const auto& entry : entries) out[entry.key] = entry;
    return out;
}

StickChange make_set(std::string key, std::string server, uint32_t ttl) {
    return StickChange{StickChange::Kind::kSet, std::move(key), std::move(server), ttl};
}

StickChange make_erase(std::string key) { return StickChange{StickChange::Kind::kErase, std::move(key), {}, 0}; }

}  // namespace

TEST_CASE("set then lookup returns the server; set again replaces it") {
    StickTable table("web", 1000, 100);
    CHECK(table.name() == "web");
    CHECK(table.ttl_ms() == 1000);
    CHECK(table.capacity() == 100);

    table.set("10.0.0.1", "s1", 0);
    CHECK(table.lookup("10.0.0.1", 10) == "s1");
    CHECK_FALSE(table.lookup("10.0.0.2", 10).has_value());

    table.set("10.0.0.1", "s2", 20);
    CHECK(table.lookup("10.0.0.1", 30) == "s2");
    CHECK(table.size() == 1);

    // Keys are bytes: embedded NULs (IPv4/IPv6 address bytes) are part of the key.
    std::string a("\x0a\x00\x00\x01", 4);
    std::string b("\x0a\x00\x00\x02", 4);
    table.set(a, "sa", 0);
    table.set(b, "sb", 0);
    CHECK(table.lookup(a, 1) == "sa");
    CHECK(table.lookup(b, 1) == "sb");
    CHECK(table.size() == 3);
}

TEST_CASE("an entry expires ttl_ms after it was set; lookup drops it") {
    StickTable table("web", 100, 100);
    table.set("a", "s1", 1000);
    table.set("b", "s1", 1000);
    CHECK(table.lookup("a", 1099) == "s1");
    CHECK_FALSE(table.lookup("b", 1100).has_value());
    CHECK(table.size() == 1);  // the expired "b" was removed by the lookup
}

TEST_CASE("lookup refreshes the TTL") {
    StickTable table("web", 100, 100);
    table.set("a", "s1", 0);
    CHECK(table.lookup("a", 80) == "s1");   // now expires at 180
    CHECK(table.lookup("a", 150) == "s1");  // past the first expiry; now 250
    CHECK(table.lookup("a", 249) == "s1");  // now 349
    CHECK_FALSE(table.lookup("a", 349).has_value());
}

TEST_CASE("a full shard evicts its least recently used entry") {
    StickTable table("web", 1000, 3, 1);
    table.set("a", "s", 0);
    table.set("b", "s", 1);
    table.set("c", "s", 2);
    CHECK(table.lookup("a", 3) == "s");  // "b" is now the least recently used
    table.set("d", "s", 4);
    CHECK(table.size() == 3);
    CHECK(table.evictions() == 1);
    CHECK(keys_of(table.snapshot(4)) == std::set<std::string>{"a", "c", "d"});

    // Updating a present key never evicts.
    table.set("c", "s2", 5);
    CHECK(table.evictions() == 1);
    // Order is now (most recent first) c, d, a: "a" goes next.
    table.set("e", "s", 6);
    CHECK(keys_of(table.snapshot(6)) == std::set<std::string>{"c", "d", "e"});
    CHECK(table.evictions() == 2);
}

TEST_CASE("evictions counts live entries lost to capacity, not expired ones") {
    StickTable table("web", 10, 2, 1);
    for (int i = 0; i < 5; ++i) table.set("k" + std::to_string(i), "s", 0);
    CHECK(table.size() == 2);
    CHECK(table.evictions() == 3);

    // Both entries have expired by 100: the set drops the expired tail and
    // evicts nothing.
    table.set("x", "s", 100);
    CHECK(table.evictions() == 3);
    CHECK(table.lookup("x", 100) == "s");
}

TEST_CASE("more shards than capacity still keeps size <= capacity") {
    StickTable table("web", 1000, 4, 16);
    for (int i = 0; i < 100; ++i) table.set("k" + std::to_string(i), "s", 0);
    CHECK(table.size() <= 4);
    CHECK(table.size() >= 1);
}

TEST_CASE("snapshot lists live entries with their remaining TTL, without refreshing") {
    StickTable table("web", 1000, 100);
    table.set("a", "s1", 0);
    table.set("b", "s2", 300);

    auto entries = by_key(table.snapshot(500));
    REQUIRE(entries.size() == 2);
    CHECK(entries["a"].server == "s1");
    CHECK(entries["a"].ttl_remaining_ms == 500);
    CHECK(entries["b"].server == "s2");
    CHECK(entries["b"].ttl_remaining_ms == 800);

    entries = by_key(table.snapshot(1000));
    REQUIRE(entries.size() == 1);
    CHECK(entries["b"].ttl_remaining_ms == 300);
    CHECK(table.size() == 2);  // snapshot removes nothing
}

TEST_CASE("snapshot lists each shard least recently used first") {
    StickTable table("web", 1000, 10, 1);
    table.set("a", "s", 0);
    table.set("b", "s", 1);
    table.set("c", "s", 2);
    table.lookup("a", 3);
    auto entries = table.snapshot(3);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].key == "b");
    CHECK(entries[1].key == "c");
    CHECK(entries[2].key == "a");
}

TEST_CASE("set() and erase() report changes; apply(), clear() and most lookups do not") {
    StickTable table("web", 1000, 100);
    std::vector<StickChange> changes;
    table.set_change_listener([&](const StickChange& change) { changes.push_back(change); });

    table.set("k", "s1", 0);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == StickChange::Kind::kSet);
    CHECK(changes[0].key == "k");
    CHECK(changes[0].server == "s1");
    CHECK(changes[0].ttl_remaining_ms == 1000);

    table.lookup("k", 1);
    table.erase("missing");  // nothing to remove, nothing to report
    CHECK(changes.size() == 1);

    table.erase("k");
    REQUIRE(changes.size() == 2);
    CHECK(changes[1].kind == StickChange::Kind::kErase);
    CHECK(changes[1].key == "k");
    CHECK_FALSE(table.lookup("k", 2).has_value());

    changes.clear();
    table.apply(make_set("p", "s2", 200), 0);
    CHECK(changes.empty());
    // The lookup takes the peer's entry (200 ms left) to a full TTL: a move
    // of more than half a TTL, so the peer hears of it.
    CHECK(table.lookup("p", 10) == "s2");
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == StickChange::Kind::kSet);
    CHECK(changes[0].server == "s2");
    CHECK(changes[0].ttl_remaining_ms == 1000);
    changes.clear();
    table.apply(make_erase("p"), 20);
    CHECK_FALSE(table.lookup("p", 30).has_value());
    table.set("q", "s", 0);
    changes.clear();
    table.clear();
    CHECK(table.size() == 0);
    CHECK(changes.empty());
}

TEST_CASE("lookups report a TTL refresh at most twice per TTL") {
    StickTable table("web", 1000, 100);
    std::vector<StickChange> changes;
    table.set_change_listener([&](const StickChange& change) { changes.push_back(change); });
    table.set("k", "s1", 0);  // reported, expiry 1000
    changes.clear();
    // A client coming back every 10 ms for 3 TTLs: its entry never expires
    // here, and the peer hears of it whenever its copy would have less than
    // half a TTL left.
    for (uint64_t now = 10; now <= 3000; now += 10) REQUIRE(table.lookup("k", now) == "s1");
    CHECK(changes.size() == 5);  // at 510, 1020, 1530, 2040, 2550
    for (const StickChange& change : changes) {
        CHECK(change.kind == StickChange::Kind::kSet);
        CHECK(change.ttl_remaining_ms == 1000);
    }
}

TEST_CASE("apply() keeps the peer's remaining TTL, capped at ttl_ms") {
    StickTable table("web", 1000, 100);
    table.apply(make_set("short", "s1", 200), 0);
    table.apply(make_set("long", "s2", 999999), 0);
    auto entries = by_key(table.snapshot(50));
    REQUIRE(entries.size() == 2);
    CHECK(entries["short"].ttl_remaining_ms == 150);
    CHECK(entries["long"].ttl_remaining_ms == 950);
    CHECK_FALSE(table.lookup("short", 200).has_value());

    // An update replaces server and TTL; a zero TTL removes the entry.
    table.apply(make_set("long", "s3", 100), 60);
    CHECK(by_key(table.snapshot(60))["long"].server == "s3");
    CHECK(by_key(table.snapshot(60))["long"].ttl_remaining_ms == 100);
    table.apply(make_set("long", "s3", 0), 70);
    CHECK(table.size() == 0);
}

TEST_CASE("the listener runs outside the shard lock") {
    // A listener that reads the table would deadlock if set() held the
    // shard's lock while calling it.
    StickTable table("web", 1000, 100, 1);
    std::vector<std::string> seen;
    table.set_change_listener([&](const StickChange& change) {
        auto server = table.lookup(change.key, 0);
        seen.push_back(server.value_or("-"));
    });
    table.set("k", "s1", 0);
    table.erase("k");
    CHECK(seen == std::vector<std::string>{"s1", "-"});
}

TEST_CASE("expire() drops expired entries and returns how many") {
    StickTable table("web", 100, 100);
    for (int i = 0; i < 5; ++i) table.set("early" + std::to_string(i), "s", 0);
    for (int i = 0; i < 3; ++i) table.set("late" + std::to_string(i), "s", 50);
    CHECK(table.expire(99) == 0);
    CHECK(table.expire(100) == 5);
    CHECK(table.size() == 3);
    CHECK(table.expire(149) == 0);
    CHECK(table.expire(150) == 3);
    CHECK(table.size() == 0);
}

TEST_CASE("expire() finds entries that apply() gave a shorter TTL than older ones") {
    // One shard, so "d" and "b" sit in front of longer-lived entries in the
    // LRU list: a walk from the tail alone would stop before reaching them.
    StickTable table("web", 1000, 100, 1);
    table.set("a", "s", 0);                     // expires at 1000
    table.apply(make_set("b", "s", 100), 0);    // 100
    table.set("c", "s", 10);                    // 1010
    table.apply(make_set("d", "s", 500), 10);   // 510
    CHECK(table.expire(99) == 0);
    CHECK(table.expire(100) == 1);
    CHECK(table.expire(509) == 0);
    CHECK(table.expire(510) == 1);
    CHECK(table.expire(999) == 0);
    CHECK(table.expire(1000) == 1);
    CHECK(table.expire(1010) == 1);
    CHECK(table.size() == 0);
}

TEST_CASE("random operations match a simple model") {
    // The model is a vector in LRU order (most recent first), scanned in full
    // for every operation: obviously right, and slow enough only for tests.
    struct Entry {
        std::string key, server;
        uint64_t expires_at;
    };
    const uint32_t ttl = 100;
    const size_t capacity = 8;
    StickTable table("web", ttl, capacity, 1);
    std::vector<Entry> model;
    uint64_t model_evictions = 0;

    auto find = [&](const std::string& key) {
        return std::find_if(model.begin(), model.end(), [&](const Entry& e) { return e.key == key; });
    };
    auto put = [&](const std::string& key, const std::string& server, uint64_t expires_at, uint64_t now) {
        auto it = find(key);
        if (it != model.end()) {
            model.erase(it);
        } else {
            while (model.size() >= capacity) {
                if (model.back().expires_at > now) ++model_evictions;
                model.pop_back();
            }
        }
        model.insert(model.begin(), Entry{key, server, expires_at});
    };

    std::mt19937 rng(12345);
    uint64_t now = 0;
    for (int step = 0; step < 10000; ++step) {
        now += rng() % 20;
        std::string key = "k" + std::to_string(rng() % 20);
        std::string server = "s" + std::to_string(rng() % 3);
        switch (rng() % 6) {
            case 0: {
                table.set(key, server, now);
                put(key, server, now + ttl, now);
                break;
            }
            case 1: {
                auto got = table.lookup(key, now);
                auto it = find(key);
                std::optional<std::string> want;
                if (it != model.end()) {
                    if (it->expires_at > now) {
                        want = it->server;
                        Entry e = *it;
                        e.expires_at = now + ttl;
                        model.erase(it);
                        model.insert(model.begin(), e);
                    } else {
                        model.erase(it);
                    }
                }
                REQUIRE(got == want);
                break;
            }
            case 2: {
                uint32_t remaining = rng() % 150;
                table.apply(make_set(key, server, remaining), now);
                uint32_t capped = std::min(remaining, ttl);
                if (capped > 0) {
                    put(key, server, now + capped, now);
                } else if (auto it = find(key); it != model.end()) {
                    model.erase(it);
                }
                break;
            }
            case 3: {
                table.erase(key);
                if (auto it = find(key); it != model.end()) model.erase(it);
                break;
            }
            case 4: {
                size_t dropped = table.expire(now);
                size_t before = model.size();
                std::erase_if(model, [&](const Entry& e) { return e.expires_at <= now; });
                REQUIRE(dropped == before - model.size());
                break;
            }
            default: {
                auto got = table.snapshot(now);
                std::vector<std::string> want;
                for (auto it = model.rbegin(); it != model.rend(); ++it)
                    if (it->expires_at > now) want.push_back(it->key + "=" + it->server + "/" +
                                                             std::to_string(it->expires_at - now));
                std::vector<std::string> have;
                for (const auto& e : got)
                    have.push_back(e.key + "=" + e.server + "/" + std::to_string(e.ttl_remaining_ms));
                REQUIRE(have == want);
                break;
            }
        }
        REQUIRE(table.size() == model.size());
        REQUIRE(table.evictions() == model_evictions);
    }
}

TEST_CASE("concurrent set()s of one key are reported in the order they were made") {
    // In each round the workers race to set the same key, each to its own
    // server. Whichever order they win in, the last change reported must be
    // the one the table kept, or the peer would end with another server.
    StickTable table("web", 60000, 1024, 4);
    std::mutex mu;
    std::map<std::string, std::string> last_reported;
    table.set_change_listener([&](const StickChange& change) {
        // Delays each worker's report by a different time: unordered
        // reports would then often arrive in another order than the changes.
        std::this_thread::sleep_for(std::chrono::microseconds(50 * (change.server.back() - '0')));
        std::lock_guard lock(mu);
        last_reported[change.key] = change.server;
    });

    const int threads = 4;
    const int rounds = 200;
    int mismatches = 0;
    int round = 0;
    // Runs once per round, after every worker's set() (and its report) returned.
    auto check_round = [&]() noexcept {
        std::string key = "k" + std::to_string(round % 8);
        std::lock_guard lock(mu);
        if (table.lookup(key, 0) != last_reported[key]) ++mismatches;
        ++round;
    };
    std::barrier sync(threads, check_round);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::string server = "s" + std::to_string(t);
            for (int i = 0; i < rounds; ++i) {
                table.set("k" + std::to_string(i % 8), server, 0);
                sync.arrive_and_wait();
            }
        });
    }
    for (auto& worker : workers) worker.join();
    CHECK(round == rounds);
    CHECK(mismatches == 0);
}

TEST_CASE("concurrent set and lookup keep the table consistent") {
    const size_t capacity = 1024;
    StickTable table("web", 60000, capacity, 16);
    std::atomic<uint64_t> reported{0};
    table.set_change_listener([&](const StickChange&) { reported.fetch_add(1, std::memory_order_relaxed); });

    const int threads = 4;
    const int ops = 20000;
    std::atomic<uint64_t> sets{0};
    std::atomic<uint64_t> wrong{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::string prefix = "t" + std::to_string(t) + "-";
            std::string server = "s" + std::to_string(t);
            uint64_t local_sets = 0;
            for (int i = 0; i < ops; ++i) {
                // Each thread has its own clock, so the shards see now_ms
                // values that are slightly out of order, as with real workers.
                uint64_t now = static_cast<uint64_t>(i) + static_cast<uint64_t>(t) * 3;
                std::string key = prefix + std::to_string(i % 700);
                if (auto got = table.lookup(key, now)) {
                    if (*got != server) wrong.fetch_add(1, std::memory_order_relaxed);
                } else {
                    table.set(key, server, now);
                    ++local_sets;
                }
                if (i % 5000 == 0 && t == 0) table.expire(now);
            }
            sets.fetch_add(local_sets, std::memory_order_relaxed);
        });
    }
    for (auto& worker : workers) worker.join();

    CHECK(wrong.load() == 0);
    CHECK(table.size() <= capacity);
    CHECK(table.size() == table.snapshot(0).size());
    CHECK(reported.load() == sets.load());
    // 2800 distinct keys into 1024 slots: some were evicted.
    CHECK(table.evictions() > 0);
}

}  // namespace lbd
