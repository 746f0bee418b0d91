// SyncLink's insides, shared by its source files: sync_link.cc (sockets,
// timers, connection life cycle), sync_link_protocol.cc (handshake, frames,
// messages, flushing) and sync_link_receive.cc (what the peer sent applied,
// its acks, the lag). Not for other users: include
// ha/sync_link.h. Same thread rules as SyncLink.
#pragma once

#include <event2/bufferevent.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/loop/event.h"
#include "ha/sync_codec.h"
#include "ha/sync_link.h"

namespace lbd::ha {

// Tunables; the reasons are in sync_link.h.
inline constexpr uint32_t kDialBackoffStartMs = 100;
inline constexpr uint32_t kDialBackoffMaxMs = 1000;
inline constexpr uint32_t kRefusedBackoffMs = 5000;
inline constexpr size_t kOutputHighWater = 4 * 1024 * 1024;
inline constexpr size_t kOutputLowWater = 1024 * 1024;
// After sending a Refusal: how long to wait for the peer to read it and close.
inline constexpr uint32_t kClosingLingerMs = 1000;
inline constexpr uint32_t kExpireEveryMs = 5000;
// Silence allowed between the peer's Hello and its next frame: this link
// builds a snapshot a slice at a time and keeps talking, but an older peer
// built it in one go (about a second for a million stick entries) and sent
// nothing meanwhile.
inline constexpr uint32_t kFirstFrameGraceMs = 10000;
// Stick-map buckets (about as many records) walked per loop turn while a
// snapshot is built: half a chunk of 4096 records, about a millisecond (8192
// took long enough on a loaded machine, with the encoding of the chunks they
// filled, that the peer missed heartbeats).
inline constexpr size_t kSnapshotSliceBuckets = 2048;
// Records of a received snapshot chunk merged and applied to the live tables
// (the stick table's shard locks, shared with the workers) per loop turn; the
// rest of the chunk, and every frame after it, waits for the next turns.
inline constexpr size_t kApplySliceRecords = 1024;
inline constexpr size_t kLagWindow = 4096;
// Unacknowledged local_change() marks kept for the lag (one per ms at most).
inline constexpr size_t kMaxLagMarks = 65536;

class SyncLink::Impl {
public:
    enum class Phase : uint8_t { kConnecting, kPreamble, kHello, kUp, kClosing };
    // How long the dialer waits before the next attempt.
    enum class Backoff : uint8_t { kNormal, kLong };

    struct Connection {
        Impl* link = nullptr;
        bufferevent* bev = nullptr;  // owns the socket (BEV_OPT_CLOSE_ON_FREE)
        Role role = Role::kDialer;
        SocketAddress remote;
        Phase phase = Phase::kConnecting;
        bool closed = false;  // closed, waiting to be freed by the reap event
        Nonce nonce{};
        std::optional<FrameReader> reader;
        std::optional<FrameWriter> writer;
        lbd::v1::Hello hello;   // ours, kept for hello_check()
        std::string peer_node;  // from its Hello, printable
        uint64_t last_heard_ms = 0, last_sent_ms = 0;
        // A frame from the peer after its Hello (kFirstFrameGraceMs).
        bool heard_since_hello = false;
        uint64_t deadline_ms = 0;  // handshake or closing deadline
        // Snapshot chunks of the last slice built: they go out as the output buffer drains.
        std::vector<lbd::v1::Snapshot> chunks;
        size_t next_chunk = 0;
        std::optional<uint64_t> snapshot_unacked;  // its covers_sequence until acked
        bool ack_pending = false;
        // A snapshot being received.
        uint64_t snapshot_records = 0, snapshot_changed = 0;
        // The received chunk being applied a slice per loop turn, and where;
        // meanwhile the socket is not read and no later frame is processed
        // (reads_paused), so what follows the chunk is applied after it.
        std::optional<lbd::v1::Snapshot> inbound;
        size_t inbound_cursor = 0;
        bool reads_paused = false;
        // kClosing: why, and the backoff to apply once closed.
        std::string close_why;
        Backoff close_backoff = Backoff::kNormal;

        ~Connection();
        std::string name() const;  // "lb-b (10.0.0.2:7946)" or the address alone
    };

    Impl(event_base* base, Options options, SyncState& state, Observer& observer);
    ~Impl();

    // --- sync_link.cc: sockets, timers, life cycle --------------------------
    bool start(std::string* error);
    void dial();
    void accept_ready(int listen_fd);
    void accepted(UniqueFd fd, const SocketAddress& from);
    // Sets up callbacks and buffers for a new connection and puts it in
    // `slot` (conn_, or candidate_ for a peer reconnecting over a live link).
    Connection* adopt(bufferevent* bev, Role role, const SocketAddress& remote, std::unique_ptr<Connection>& slot);
    // A candidate's Hello arrived with a good MAC: it replaces the live link.
    void promote_candidate();
    void on_event(Connection* c, short what);
    void on_written(Connection* c);
    void tick();
    // Immediately: link down (Observer told), socket freed, redial scheduled.
    void close(Connection* c, const std::string& why, Backoff backoff);
    // Refusal or AUTH sent: link down now, socket closed once flushed.
    void begin_closing(Connection* c, std::string why, Backoff backoff);
    void link_down(Connection* c, const std::string& why);
    void schedule_dial(uint32_t delay_ms);
    void schedule_flush();
    void reject(const SocketAddress& from, const char* why);

    // --- sync_link_protocol.cc: what flows on a connection ------------------
    void on_connected(Connection* c);
    void on_readable(Connection* c);
    // The frames the FrameReader holds, in order, until it needs more bytes
    // or a snapshot chunk is left to apply on later turns.
    void read_frames(Connection* c);
    // One slice of c->inbound; pauses reads and arms apply_timer_ if more is left.
    void apply_inbound(Connection* c);
    // apply_timer_: the next slice, or, the chunk done, the frames after it.
    void resume_inbound();
    bool read_preamble(Connection* c, evbuffer* in);
    void on_frame_error(Connection* c, FrameError error);
    void on_message(Connection* c, lbd::v1::SyncMessage& message);
    void on_hello(Connection* c, const lbd::v1::Hello& peer);
    void on_snapshot(Connection* c, lbd::v1::Snapshot& chunk);
    void on_changes(Connection* c, const lbd::v1::Changes& changes);
    void on_ack(Connection* c, const lbd::v1::Ack& ack);
    void on_refusal(Connection* c, const lbd::v1::Refusal& refusal);
    void refuse(Connection* c, lbd::v1::Refusal::Reason reason, const std::string& detail, Backoff backoff);
    bool send(Connection* c, const lbd::v1::SyncMessage& message);
    bool send_raw(Connection* c, const std::string& bytes);
    void flush();
    void heartbeat(Connection* c);
    void observe_lag(uint64_t ms);
    bool all_acked() const;

    event_base* base_;
    Options options_;
    SyncState& state_;
    Observer& observer_;
    bool dials_ = false;
    bool started_ = false;
    uint32_t handshake_ms_ = 0;
    uint32_t tick_ms_ = 0;

    UniqueFd listen_fd_;
    EventPtr accept_event_, accept_pause_, dial_timer_, tick_timer_, flush_event_, reap_event_, apply_timer_;
    std::unique_ptr<Connection> conn_;
    // A connection from the peer's address that arrived while conn_ was up.
    // Anyone who can send from that address can connect, so it replaces
    // conn_ only once its Hello has passed the MAC check (it proved the
    // key); until then the live link is untouched. A newer one replaces it.
    std::unique_ptr<Connection> candidate_;
    std::vector<std::unique_ptr<Connection>> graveyard_;  // closed, freed by reap_event_
    uint32_t backoff_ms_ = kDialBackoffStartMs;
    std::string last_failure_;  // the last failed attempt's reason, to log changes only
    uint64_t last_tick_ms_ = 0;
    uint64_t last_heard_ms_ = 0;  // 0 = never
    uint64_t last_reject_log_ms_ = 0, rejects_unlogged_ = 0;

    // local_change() marks not yet acknowledged, oldest first.
    struct LagMark {
        uint64_t sequence;
        uint64_t at_ms;
    };
    std::deque<LagMark> marks_;
    LatencyHistogram lag_;
    std::vector<uint32_t> lag_window_;
    size_t lag_next_ = 0;

    Stats stats_;
};

// Printable, bounded text from the peer (node ids, refusal details) for logs.
std::string printable(std::string_view text, size_t max = 120);

}  // namespace lbd::ha
