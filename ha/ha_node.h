// This node's part in the HA pair, at run time: everything between
// keepalived, the peer, and the pools.
//
//   keepalived --notify FIFO--> NotifyFifoReader --+
//   kernel ----netlink addr---> VipWatch ----------+--> RoleMachine --> role, logs, metrics
//   lbd <------track file------ readiness / failover / shutdown (keepalived moves the VIP)
//
//   workers, health checks --Server observer, stick listeners--> (TaskQueue)
//        --> SyncState.record_local --> SyncLink --> peer
//   peer --> SyncLink --> Observer --> servers' states, stick tables
//   lbctl cache purge --> share_purge --> SyncState --> SyncLink --> peer
//   peer's purge --> SyncLink --> remote_purge --> apply_purge_ (the daemon's zones)
//
// Thread model: everything here runs on the control thread's event loop.
// The Server observer and the stick-table listeners are called on workers
// and the health checker's thread; they only post a task (TaskQueue) that
// does the work on the control thread, so SyncState needs no lock.
//
// Echoes: a change applied from the peer goes through the same Server
// setters and fires the observer again. The posted task compares the
// server's state with SyncState's record and records nothing when they
// match, so a peer's write never comes back as a new local write. Stick
// changes from the peer use StickTable::apply, which reports nothing. A
// peer's cache purge goes to apply_purge_, never to share_purge.
//
// Readiness (the track file, ha/keepalived_config.h): lbd writes NotReady
// at start, so a node that just came up loses an election to a ready peer;
// Ready once it holds the peer's state (snapshot received), or once the
// peer has been unreachable for the start-up grace; Fault during a planned
// failover and at shutdown, so the VIP leaves before lbd does; and its
// watchdog writes Fault when lbd is gone (ha/track_watchdog.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/admin/admin_registry.h"
#include "core/config/config.h"
#include "core/loop/event.h"
#include "core/balance/pool.h"
#include "core/balance/server.h"
#include "core/loop/task_queue.h"
#include "core/daemon/pair_member.h"
#include "ha/link_watch.h"
#include "ha/notify_fifo.h"
#include "ha/sync_link.h"
#include "ha/sync_state.h"
#include "ha/track_watchdog.h"
#include "ha/vip_watch.h"
#include "ha/vrrp_role.h"

namespace lbd::ha {

class HaNode final : public PairMember, public Server::StateObserver, private SyncLink::Observer {
public:
    // `process_name` is what keepalived's track_process watches (the
    // rendered config for `lbctl ha keepalived-config` names it).
    // `current_pools` gives the pools of the running configuration (they
    // change on reload).
    HaNode(event_base* control, const HaConfig& config, std::string process_name,
           std::function<PoolSet&()> current_pools);
    ~HaNode() override;
    HaNode(const HaNode&) = delete;
    HaNode& operator=(const HaNode&) = delete;

    // Reads the key, writes the track file, opens the FIFO, the VIP watch
    // and the sync link. Call after watch() and before workers start.
    bool start(std::string* error) override;
    // Makes the stick tables of `pools` report to the sync. On a reload,
    // call it for the new pools before workers can see them (a table's
    // listener is set once, before any worker uses it; kept tables keep
    // theirs).
    void watch(PoolSet& pools) override;
    // lbd is stopping: the VIP should leave now (the track file says FAULT).
    void begin_shutdown() override;
    void set_hand_over(HandOverFn hand_over) override { hand_over_ = std::move(hand_over); }
    void share_purge(const lbd::v1::CachePurgeRequest& request) override;
    void set_apply_purge(ApplyPurgeFn apply) override { apply_purge_ = std::move(apply); }

    void register_admin_commands(AdminRegistry& registry) override;
    void write_metrics(std::string& out) const override;
    NodeRole role() const { return role_.role(); }
    std::string role_name() const override { return to_string(role()); }

    // Server::StateObserver (any thread).
    void server_state_changed(const Server& server, ServerState old_state, ServerState new_state,
                              const char* reason) override;

private:
    // SyncLink::Observer (control thread).
    void remote_health(const lbd::v1::ServerHealth& health) override;
    void remote_stick(const lbd::v1::StickRecord& stick) override;
    void remote_purge(const lbd::v1::CachePurge& purge) override;
    void link_changed(bool up, const std::string& peer_node_id) override;

    void local_health(const std::string& pool, const std::string& server);
    void local_stick(const std::string& pool, lbd::v1::StickRecord::Kind kind, const StickChange& change);
    void on_notify_line(std::string_view line);
    void on_vip(bool present);
    void on_vrrp_link(bool up);
    bool end_link_hold(uint64_t now);
    void role_changed(NodeRole previous);
    void update_readiness();
    void write_track(int value, const char* reason);
    static void on_readiness_timer(evutil_socket_t, short, void* arg);

    void describe(lbd::v1::HaStatusReply& out) const;
    void failover(const lbd::v1::HaFailoverRequest& request, lbd::v1::HaFailoverReply& reply, AdminResponse& response);
    // The planned handover's steps (ha_node_handover.cc).
    void start_handover(uint32_t drain_timeout_ms);
    void handover_tick();
    void release_vip(uint64_t open, bool deadline_passed);
    void handover_vip_left();
    static void on_handover_timer(evutil_socket_t, short, void* arg);

    event_base* base_;
    const HaConfig config_;
    std::string process_name_;
    std::function<PoolSet&()> current_pools_;
    TaskQueue tasks_;

    RoleMachine role_;
    uint64_t failover_hold_ms_;
    std::string keepalived_state_;
    uint64_t role_since_ms_;
    std::unique_ptr<NotifyFifoReader> fifo_;
    std::unique_ptr<VipWatch> vip_;
    std::unique_ptr<LinkWatch> vrrp_link_;

    std::unique_ptr<SyncState> state_;
    std::unique_ptr<SyncLink> link_;

    // Writes FAULT to the track file when lbd exits, however it exits.
    TrackWatchdog watchdog_;
    int track_value_ = 0;
    std::string track_reason_;
    uint64_t started_ms_;
    bool ready_ = false;
    bool shutting_down_ = false;
    // A planned failover holds FAULT until the VIP has been gone for
    // failover_hold_ms_, long enough for the peer to take it.
    bool failover_active_ = false;
    uint64_t failover_vip_gone_ms_ = 0;
    EventPtr readiness_timer_;
    // The VRRP interface's link went down (FAULT written), then came back at
    // link_up_ms_: FAULT is held until the peer has been heard since, or for
    // a grace at most (ha_node.cc, kLinkReturnGraceMs, says why).
    enum class LinkHold { kNone, kLinkDown, kReturning };
    LinkHold link_hold_ = LinkHold::kNone;
    uint64_t link_up_ms_ = 0;

    // A planned handover: DRAINING (the tiers end the connections on the
    // virtual IPs while the VIP stays), RELEASING (FAULT written, waiting for
    // the VIP to leave), then over. The figures go to `lbctl ha status`.
    enum class Handover { kNone, kDraining, kReleasing };
    Handover handover_ = Handover::kNone;
    HandOverFn hand_over_;
    ApplyPurgeFn apply_purge_;
    std::vector<std::string> vip_bytes_;  // the virtual IPs' raw bytes (vip_connections.h)
    uint64_t handover_start_ms_ = 0;
    uint64_t handover_deadline_ms_ = 0;
    lbd::v1::HaHandoverInfo handover_info_;
    bool handover_ran_ = false;
    EventPtr handover_timer_;
};

}  // namespace lbd::ha
