// What the peer-sync state tests share: two SyncState instances play the two
// nodes, messages move between them in memory (and through the real codec in
// sync_state_codec_test.cc). Time is an argument: no sleeps.
#pragma once

#include <chrono>
#include <cstdio>
#include <random>

#include "ha/sync_codec.h"
#include "ha/sync_state.h"

namespace lbd::ha {
namespace {

using lbd::v1::ServerHealth;
using lbd::v1::StickRecord;
using Start = SyncState::Start;
using Applied = SyncState::Applied;

constexpr uint64_t kNow = 1'000'000;
constexpr uint32_t kTtl = 600'000;
const std::string kDigest = server_set_digest({{"web", "s1"}, {"web", "s2"}});

inline SyncState node(const std::string& id, uint64_t epoch, size_t queue_cap = 1000, uint64_t clock_floor = 0) {
    return SyncState(SyncState::Options{id, epoch, clock_floor, queue_cap});
}

inline StickRecord stick(const std::string& key, const std::string& server, uint32_t ttl = kTtl) {
    StickRecord record;
    record.set_pool("web");
    record.set_kind(StickRecord::SOURCE_IP);
    record.set_key(key);
    record.set_server(server);
    record.set_ttl_remaining_ms(ttl);
    return record;
}

inline StickRecord erase(const std::string& key, uint32_t tombstone_ttl = 0) {
    StickRecord record = stick(key, "", tombstone_ttl);
    record.set_erase(true);
    return record;
}

inline ServerHealth health(const std::string& server, ServerHealth::State state, uint32_t weight = 1) {
    ServerHealth record;
    record.set_pool("web");
    record.set_server(server);
    record.set_state(state);
    record.set_weight(weight);
    record.set_last_change_unix_ms(1700000000000);
    return record;
}

inline std::string server_of(const SyncState& state, const std::string& key, uint64_t now = kNow) {
    auto record = state.find_stick("web", StickRecord::SOURCE_IP, key, now);
    return record ? record->server() : "<none>";
}

// Hello both ways; returns what `a` decided for its direction.
inline Start handshake(SyncState& a, SyncState& b, Start* b_start = nullptr) {
    auto hello_a = a.make_hello("prod", kDigest);
    auto hello_b = b.make_hello("prod", kDigest);
    REQUIRE(!hello_check(hello_a, hello_b));
    REQUIRE(!hello_check(hello_b, hello_a));
    Start start = a.on_peer_hello(hello_b);
    Start other = b.on_peer_hello(hello_a);
    if (b_start) *b_start = other;
    return start;
}

// Everything `from` has for `to`: a snapshot if needed, then changes; then
// `to` acks. Returns how many changes went.
inline size_t pump(SyncState& from, SyncState& to, uint64_t now = kNow, size_t batch = 100) {
    if (from.needs_snapshot()) {
        for (const auto& chunk : from.take_snapshot(now, 1000)) REQUIRE(to.apply_snapshot(chunk, now));
    }
    size_t sent = 0;
    while (auto changes = from.take_outgoing(now, batch)) {
        for (const auto& change : changes->changes()) REQUIRE(to.apply_remote(change, now) != Applied::kInvalid);
        sent += changes->changes_size();
    }
    from.on_ack(to.make_ack());
    return sent;
}

inline void connect_and_sync(SyncState& a, SyncState& b) {
    handshake(a, b);
    pump(a, b);
    pump(b, a);
}

// Both nodes' records, in a canonical order, as bytes.
inline std::vector<std::string> state_of(const SyncState& state, uint64_t now = kNow) {
    SnapshotRecords records = state.records(now);
    std::vector<std::string> out;
    for (const auto& h : records.health) out.push_back("H " + h.SerializeAsString());
    for (const auto& s : records.sticks) out.push_back("S " + s.SerializeAsString());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace
}  // namespace lbd::ha
