// The planned handover, `lbctl ha failover`:
//
//   failover()   checks, then the tiers stop taking connections to the
//     |          virtual IPs (their SYNs are dropped, not refused: clients
//     |          send them again and reach the peer once it holds the VIP),
//     |          and end the open ones cleanly (Tier::hand_over)
//   DRAINING     every 10 ms: connections on the VIP, as the kernel sees them
//     |          (vip_connections.h: including closed ones whose last bytes
//     |          are not acknowledged yet). None left, or the deadline:
//   RELEASING    FAULT to the track file: keepalived sends a priority-0
//     |          advert and drops the VIP, the peer takes it at once
//   VIP gone     the tiers take connections again (none arrive for the VIP
//                here now); update_readiness() lifts the FAULT later.
//
// Why drain before the VIP leaves: a connection cannot be finished from an
// address this node no longer holds. Responses already written but not yet
// delivered, and requests on keep-alive connections, were lost when the VIP
// left first (issue 18: 1 to 22 requests in 8 of 21 handovers).
#include "core/admin/admin_http.h"
#include "core/base/log.h"
#include "ha/ha_node.h"
#include "ha/keepalived_config.h"
#include "ha/vip_connections.h"

namespace lbd::ha {

namespace {

constexpr uint32_t kDefaultDrainTimeoutMs = 2000;
constexpr uint32_t kHandoverTickMs = 10;

}  // namespace

// keepalived has no "give up MASTER" command, and with nopreempt a lower
// priority would not make the peer take over; FAULT does: keepalived sends a
// priority-0 advert and drops the VIP, and the peer becomes MASTER at once.
// update_readiness() lifts the FAULT once the VIP has been gone long enough
// for the peer to hold it.
void HaNode::failover(const lbd::v1::HaFailoverRequest& request, lbd::v1::HaFailoverReply& reply,
                      AdminResponse& response) {
    if (role_.role() != NodeRole::kMaster) {
        admin_error(response, lbd::v1::AdminError::FAILED_PRECONDITION,
                    std::string("this node is ") + to_string(role_.role()) + ", not MASTER: the VIP is not here");
        return;
    }
    if (failover_active_) {
        admin_error(response, lbd::v1::AdminError::FAILED_PRECONDITION, "a failover is already in progress");
        return;
    }
    SyncLink::Stats stats = link_->stats();
    if (!request.force()) {
        const char* missing = !stats.connected            ? "is not connected"
                              : !stats.synced_with_peer   ? "has not sent its full state yet"
                              : !link_->all_acked()       ? "has not acknowledged every change yet"
                                                          : nullptr;
        if (missing != nullptr) {
            admin_error(response, lbd::v1::AdminError::FAILED_PRECONDITION,
                        std::string("the peer ") + missing +
                            ": a failover now could lose stickiness or health (--force to go anyway)");
            return;
        }
    }
    failover_active_ = true;
    failover_vip_gone_ms_ = 0;
    const uint32_t timeout = request.drain_timeout_ms() != 0 ? request.drain_timeout_ms() : kDefaultDrainTimeoutMs;
    LOG_INFO("ha: planned failover to %s started%s: draining the virtual IPs (up to %u ms)",
             stats.peer_node_id.empty() ? "the peer" : stats.peer_node_id.c_str(), request.force() ? " (forced)" : "",
             timeout);
    start_handover(timeout);
    reply.set_started(true);
    reply.set_detail("draining " + std::to_string(handover_info_.open_at_start()) +
                     " connections on the virtual IPs (up to " + std::to_string(timeout) +
                     " ms), then keepalived leaves MASTER and the peer takes the VIP");
}

void HaNode::start_handover(uint32_t drain_timeout_ms) {
    handover_ = Handover::kDraining;
    handover_ran_ = true;
    handover_start_ms_ = monotonic_ms();
    handover_deadline_ms_ = handover_start_ms_ + drain_timeout_ms;
    handover_info_.Clear();
    handover_info_.set_phase("DRAINING");
    handover_info_.set_drain_timeout_ms(drain_timeout_ms);
    std::string error;
    std::optional<VipConnections> open = count_vip_connections(vip_bytes_, &error);
    if (!open) LOG_WARN("ha: planned failover: %s", error.c_str());
    handover_info_.set_open_at_start(open ? open->open : 0);
    handover_info_.set_open_now(open ? open->open : 0);
    if (hand_over_) hand_over_(std::make_shared<const std::vector<std::string>>(vip_bytes_), drain_timeout_ms);
    timeval tick{0, kHandoverTickMs * 1000};
    event_add(handover_timer_.get(), &tick);
}

void HaNode::on_handover_timer(evutil_socket_t, short, void* arg) { static_cast<HaNode*>(arg)->handover_tick(); }

void HaNode::handover_tick() {
    if (handover_ != Handover::kDraining || shutting_down_) {
        event_del(handover_timer_.get());
        return;
    }
    std::string error;
    std::optional<VipConnections> open = count_vip_connections(vip_bytes_, &error);
    const uint64_t now = monotonic_ms();
    if (!open) {
        // Without the kernel's count, the drain deadline is all there is.
        LOG_WARN("ha: planned failover: %s", error.c_str());
        if (now >= handover_deadline_ms_) release_vip(0, true);
        return;
    }
    handover_info_.set_open_now(open->open);
    if (open->open == 0 || now >= handover_deadline_ms_) release_vip(open->open, open->open != 0);
}

void HaNode::release_vip(uint64_t open, bool deadline_passed) {
    event_del(handover_timer_.get());
    handover_ = Handover::kReleasing;
    handover_info_.set_phase("RELEASING");
    handover_info_.set_drain_ms(monotonic_ms() - handover_start_ms_);
    handover_info_.set_left_open(open);
    handover_info_.set_deadline_passed(deadline_passed);
    if (deadline_passed)
        LOG_WARN("ha: planned failover: %llu connections on the virtual IPs still open after the %llu ms drain "
                 "deadline; they end with the address",
                 static_cast<unsigned long long>(open),
                 static_cast<unsigned long long>(handover_info_.drain_timeout_ms()));
    write_track(kTrackFault, "planned failover to the peer: drained");
}

void HaNode::handover_vip_left() {
    const uint64_t now = monotonic_ms();
    if (handover_ == Handover::kDraining) {  // keepalived left MASTER on its own meanwhile
        event_del(handover_timer_.get());
        handover_info_.set_drain_ms(now - handover_start_ms_);
        handover_info_.set_left_open(handover_info_.open_now());
    }
    handover_ = Handover::kNone;
    handover_info_.set_phase("DONE");
    handover_info_.set_vip_left_ms(now - handover_start_ms_);
    // No connection to the VIP reaches this node now: the listeners may take
    // connections again (before this node is MASTER once more).
    if (hand_over_) hand_over_(std::make_shared<const std::vector<std::string>>(), 0);
    LOG_INFO("ha: planned failover: drained %llu connections in %llu ms (%llu left open), the virtual IPs left "
             "after %llu ms",
             static_cast<unsigned long long>(handover_info_.open_at_start()),
             static_cast<unsigned long long>(handover_info_.drain_ms()),
             static_cast<unsigned long long>(handover_info_.left_open()),
             static_cast<unsigned long long>(handover_info_.vip_left_ms()));
}

}  // namespace lbd::ha
