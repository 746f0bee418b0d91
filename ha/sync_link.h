// The peer-sync link: the one TCP connection between the two nodes of an HA
// pair, on libevent. It moves SyncState's messages (ha/sync_state.h) through
// the authenticated framing of ha/sync_codec.h, and tells its owner what the
// peer changed.
//
// Who dials. Exactly one side, decided without talking: the node whose
// `listen` address sorts lower (family, then address bytes, then port) dials
// `peer`; the other only accepts, and only from `peer`'s IP. Both listen,
// so the two configs stay symmetric. The dialer binds its source address to
// `listen`'s IP, so that the listener's source check holds on multi-homed
// hosts. A newly accepted connection replaces the current one (the peer
// restarted and the old connection is not dead yet). The dialer retries with
// backoff: 100 ms, doubling to 1 s; 5 s after a Refusal or a failed MAC (a
// misconfiguration, which a fast retry would only repeat in the logs).
//
// One connection's life (both sides run the same machine):
//
//   dial / accept
//        |
//   kConnecting --connected--> kPreamble: our preamble sent at once
//                                  | the peer's preamble: derive keys
//                                  v
//                              kHello: our Hello sent
//                                  | the peer's Hello
//                  hello_check() --+-- refused: send Refusal ------+
//                                  | accepted                      |
//                              kUp: snapshot or resume,            v
//                                  changes, acks, heartbeats    kClosing: flush,
//                                  |                            half-close, read
//                                  | EOF, error, dead peer,     until EOF (<= 1 s)
//                                  | frame error, Refusal          |
//                                  v                               v
//                               closed <---------------------------+
//                                  | the dialer: redial after backoff
//
// Nothing from the peer is applied before its Hello passed the check, and
// any frame error (bad MAC, replay, gap, oversize, malformed) closes the
// connection. Deadlines: the handshake (TCP connect to accepted Hello) must
// finish within 3 heartbeats; once up, the link is dead after 3 heartbeats
// in which not a byte arrived (link_dead(); part of a big frame counts),
// except between the peer's Hello and its next frame, which may take 10 s
// (an older peer built its snapshot in one go first). This link builds a
// snapshot a slice at a time, one slice per loop turn
// (SyncState::snapshot_step), so its heartbeats, reads and ticks go on
// while a million stick entries are walked. The receiver likewise merges
// and applies a received chunk a slice of records per loop turn, and reads
// nothing more meanwhile (what follows the chunk is applied after it); the
// peer counts as heard while its chunk waits on us. Time during which this node's
// own loop was stalled (a tick arriving far too late) is not counted as the
// peer's silence either.
//
// Back-pressure: while the socket's output buffer holds more than 4 MiB no
// more snapshot chunks or changes are encoded; encoding resumes once it has
// drained to 1 MiB. Changes meanwhile coalesce in SyncState's queue (and
// past its cap turn into a snapshot), so a slow peer costs bounded memory.
//
// Thread and ownership: everything runs on the thread of `base`, and every
// public method must be called from it (the SyncState too is touched only
// there). The link does not own the event_base, the SyncState or the
// Observer; all three must outlive it. Observer callbacks run inside the
// link's event callbacks: they may call the link's const methods and
// local_change(), but must not destroy the link. The destructor closes the
// connection without calling the Observer. The process must ignore SIGPIPE
// (lbd's main does): libevent writes with writev(2), not send(MSG_NOSIGNAL).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/net/address.h"
#include "core/base/histogram.h"
#include "ha/sync_state.h"

struct event_base;

namespace lbd::ha {

class SyncLink {
public:
    struct Options {
        std::string cluster_id;
        SocketAddress listen;           // this node's sync address (bound); not a wildcard
        SocketAddress peer;             // the peer's sync address (its `listen`)
        std::string shared_key;         // at least kMinSharedKeyBytes
        uint32_t heartbeat_ms = 200;    // PeerSync.heartbeat_ms
        std::string server_set_digest;  // server_set_digest() of this node's pools
        size_t snapshot_chunk = 4096;   // records per Snapshot chunk and per Changes batch
    };

    // What the link tells its owner; all calls on the link's event_base thread.
    class Observer {
    public:
        virtual ~Observer() = default;
        // A record from the peer won (SyncState said kChanged, or it won
        // inside a snapshot chunk): apply it to the live server / stick
        // table. A stick record with erase set removes the entry.
        virtual void remote_health(const lbd::v1::ServerHealth& health) = 0;
        virtual void remote_stick(const lbd::v1::StickRecord& stick) = 0;
        // A cache purge the peer made (in a change or a snapshot, at most
        // once per version): purge the same objects here.
        virtual void remote_purge(const lbd::v1::CachePurge& purge) = 0;
        // The link came up (the peer's Hello was accepted; `peer_node_id`
        // is its node id) or went down (`peer_node_id` empty).
        virtual void link_changed(bool up, const std::string& peer_node_id) = 0;
    };

    struct Stats {
        bool connected = false;  // link up: Hello exchanged and accepted
        bool dials = false;      // this side dials (see the top of the file)
        std::string peer_node_id;
        uint64_t frames_sent = 0, frames_received = 0;
        uint64_t bytes_sent = 0, bytes_received = 0;  // preambles included
        uint64_t connects = 0;     // TCP connections established (dialed or accepted)
        uint64_t disconnects = 0;  // established connections closed, for any reason
        uint64_t links_up = 0;     // connections whose Hellos were accepted
        uint64_t snapshots_sent = 0, snapshots_received = 0;  // complete ones
        uint64_t auth_failures = 0;                          // frames with a bad MAC
        uint64_t rejected_connections = 0;  // accepted from a wrong IP, or while this side dials
        uint64_t invalid_records = 0;       // authentic but invalid records, skipped
        uint64_t purges_sent = 0;           // cache purges framed for the peer (resends included)
        uint64_t purges_received = 0;       // the peer's cache purges applied here
        std::map<std::string, uint64_t> refusals_sent, refusals_received;  // by Refusal reason name
        uint64_t last_heard_ms_ago = UINT64_MAX;  // since the last frame from any peer; MAX = never
        bool synced_with_peer = false;            // SyncState::synced_with_peer()
        size_t queued = 0;                        // SyncState::queued(): local changes not acked
        uint64_t unacked_oldest_ms = 0;           // age of the oldest unacknowledged local_change()
        uint64_t lag_samples = 0;                 // observations in lag()
        size_t output_bytes = 0;                  // waiting in the socket's output buffer
    };

    SyncLink(event_base* base, Options options, SyncState& state, Observer& observer);
    ~SyncLink();
    SyncLink(const SyncLink&) = delete;
    SyncLink& operator=(const SyncLink&) = delete;

    // Binds and listens on `listen`, and starts dialing if this side dials.
    // False with *error set if the options are unusable or the bind failed.
    bool start(std::string* error);

    // The owner just called state.record_local(...), which returned
    // `sequence` (0 is ignored): remember when (for the lag histogram) and
    // send it soon. Sends are coalesced: one flush per loop turn.
    void local_change(uint64_t sequence);

    // Closes the current connection, if any (logged with `why`); the dialer
    // redials after the first backoff step (at once if it was waiting out a
    // backoff). For operators and tests.
    void reconnect(const char* why);

    Stats stats() const;
    // Milliseconds from local_change() to the peer's Ack covering it: one
    // sample per millisecond in which local changes were made (the last
    // change of that millisecond). Changes that lost to a newer write of the
    // peer are never acknowledged one by one and give no sample.
    const LatencyHistogram& lag() const;
    // The p-th percentile (0..100, nearest rank) of the last 4096 lag
    // samples, for `lbctl ha status`; 0 without samples.
    uint64_t lag_percentile_ms(double p) const;
    // Connected, and every local change is acknowledged by the peer (no
    // snapshot pending or unacknowledged, nothing queued). For a planned
    // failover: the peer then holds everything this node knows.
    bool all_acked() const;

    // Whether a node with these addresses dials (true) or only accepts.
    static bool dials_peer(const SocketAddress& listen, const SocketAddress& peer);

    // The link's insides (ha/sync_link_impl.h), named here only so that its
    // source files can share them.
    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace lbd::ha
