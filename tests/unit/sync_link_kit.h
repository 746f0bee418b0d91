// What the peer-sync link tests share (sync_link_test.cc, sync_link_takeover_test.cc):
// two nodes "a" (127.0.0.1, the dialer: its address sorts lower) and "b"
// (127.0.0.2) on one event_base, driven a loop turn at a time until a
// condition holds or a deadline passes.
#pragma once

#include <doctest/doctest.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event.h"
#include "core/base/log.h"
#include "ha/sync_codec.h"
#include "ha/sync_link.h"

namespace lbd::ha {


using lbd::v1::ServerHealth;
using lbd::v1::StickRecord;

inline constexpr uint32_t kHeartbeatMs = 200;
inline constexpr uint32_t kTtlMs = 600'000;
inline const std::string kKey(32, 'k');

// A port on `ip` that was free a moment ago.
inline uint16_t free_port(const char* ip) {
    auto address = SocketAddress::parse(std::string(ip) + ":0");
    REQUIRE(address);
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(bind(fd.get(), address->sockaddr_ptr(), address->length()) == 0);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len).port();
}

inline SocketAddress address(const char* ip, uint16_t port) {
    auto out = SocketAddress::parse(std::string(ip) + ":" + std::to_string(port));
    REQUIRE(out);
    return *out;
}

// Runs `base` a turn at a time until `done` or `timeout_ms` passed.
inline bool run_until(event_base* base, uint64_t timeout_ms, const std::function<bool()>& done) {
    uint64_t end = monotonic_ms() + timeout_ms;
    while (!done()) {
        if (monotonic_ms() >= end) return false;
        event_base_loop(base, EVLOOP_ONCE);
    }
    return true;
}

// Runs `base` for `ms` whatever happens: to see that something does not.
inline void run_for(event_base* base, uint64_t ms) {
    run_until(base, ms, [] { return false; });
}

// Runs `base` on a thread of its own until destroyed, like a peer process
// (for B in the volume tests: on one shared loop, A's work would stall B too,
// and B's stall allowance would hide whether B really keeps the link up).
// While it runs, the node on `base` belongs to that thread; stop() joins it.
struct LoopThread {
    std::atomic<bool> stopping{false};
    std::thread thread;
    explicit LoopThread(event_base* base)
        : thread([this, base] {
              while (!stopping) event_base_loop(base, EVLOOP_ONCE);  // the link's tick ends each wait
          }) {}
    void stop() {
        stopping = true;
        if (thread.joinable()) thread.join();
    }
    ~LoopThread() { stop(); }
};

struct Recorder : SyncLink::Observer {
    std::vector<ServerHealth> health;
    size_t sticks = 0;
    std::map<std::string, std::string> stick_server;  // only while `keep` (not for a million)
    bool keep = true;
    int ups = 0, downs = 0;
    bool up = false;
    std::string peer;

    void remote_health(const ServerHealth& record) override { health.push_back(record); }
    void remote_stick(const StickRecord& record) override {
        ++sticks;
        if (keep) stick_server[record.key()] = record.server();
    }
    std::vector<lbd::v1::CachePurge> purges;
    void remote_purge(const lbd::v1::CachePurge& record) override { purges.push_back(record); }
    void link_changed(bool is_up, const std::string& peer_node_id) override {
        (is_up ? ups : downs)++;
        up = is_up;
        peer = peer_node_id;
    }
    size_t applied() const { return health.size() + sticks; }
};

inline ServerHealth health(const std::string& server, ServerHealth::State state) {
    ServerHealth record;
    record.set_pool("web");
    record.set_server(server);
    record.set_state(state);
    record.set_weight(1);
    record.set_last_change_unix_ms(1700000000000);
    return record;
}

inline StickRecord stick(const std::string& key, const std::string& server) {
    StickRecord record;
    record.set_pool("web");
    record.set_kind(StickRecord::SOURCE_IP);
    record.set_key(key);
    record.set_server(server);
    record.set_ttl_remaining_ms(kTtlMs);
    return record;
}

inline std::string ip_key(uint32_t i) {
    return {static_cast<char>(i >> 24), static_cast<char>(i >> 16), static_cast<char>(i >> 8), static_cast<char>(i)};
}

// One node: its SyncState outlives its SyncLink, as in lbd (a restarted
// link keeps the state and resumes).
struct Node {
    SyncState state;
    Recorder recorder;
    SyncLink::Options options;
    event_base* base = nullptr;
    std::unique_ptr<SyncLink> link;

    Node(const std::string& id, uint64_t epoch) : state(SyncState::Options{id, epoch, 1'000'000, 65536}) {}

    void start() {
        link = std::make_unique<SyncLink>(base, options, state, recorder);
        std::string error;
        REQUIRE_MESSAGE(link->start(&error), error);
    }
    SyncLink::Stats stats() const { return link->stats(); }
    bool up() const { return link && link->stats().connected; }
    uint64_t local(const ServerHealth& record) {
        uint64_t sequence = state.record_local(record);
        if (link) link->local_change(sequence);
        return sequence;
    }
    uint64_t local(const StickRecord& record) {
        uint64_t sequence = state.record_local(record, monotonic_ms());
        if (link) link->local_change(sequence);
        return sequence;
    }
    std::string server_of(const std::string& key) const {
        auto record = state.find_stick("web", StickRecord::SOURCE_IP, key, monotonic_ms());
        return record ? record->server() : "<none>";
    }
};

struct Pair {
    EventBasePtr base{event_base_new()};
    Node a{"a", 101}, b{"b", 202};

    Pair() {
        std::signal(SIGPIPE, SIG_IGN);
        set_log_level(getenv("LBD_TEST_LOG_DEBUG") ? LogLevel::kDebug : LogLevel::kWarning);
        const std::string digest = server_set_digest({{"web", "s1"}, {"web", "s2"}});
        for (Node* node : {&a, &b}) {
            node->base = base.get();
            node->options.cluster_id = "prod";
            node->options.shared_key = kKey;
            node->options.heartbeat_ms = kHeartbeatMs;
            node->options.server_set_digest = digest;
        }
        a.options.listen = b.options.peer = address("127.0.0.1", free_port("127.0.0.1"));
        b.options.listen = a.options.peer = address("127.0.0.2", free_port("127.0.0.2"));
    }
    void start() {
        a.start();
        b.start();
    }
    bool run_until(uint64_t timeout_ms, const std::function<bool()>& done) {
        return ha::run_until(base.get(), timeout_ms, done);
    }
    bool synced() const {
        return a.up() && b.up() && a.state.synced_with_peer() && b.state.synced_with_peer() && a.link->all_acked() &&
               b.link->all_acked();
    }
    void connect() { REQUIRE(run_until(5000, [&] { return synced(); })); }
};

// The records both nodes hold, without TTLs (each side counts them down
// from its own clock).
inline std::set<std::string> contents(const SyncState& state) {
    std::set<std::string> out;
    SnapshotRecords records = state.records(monotonic_ms());
    for (const auto& h : records.health) out.insert("H " + h.SerializeAsString());
    for (auto s : records.sticks) {
        s.clear_ttl_remaining_ms();
        out.insert("S " + s.SerializeAsString());
    }
    return out;
}

}  // namespace lbd::ha
