// HaNode's faces to operators: `lbctl ha status|keepalived-config`, the
// admin side of `lbctl ha failover` (ha_node_handover.cc)
// and the lbd_ha_* metrics.
#include "core/admin/admin_http.h"
#include "core/base/log.h"
#include "ha/ha_node.h"
#include "ha/keepalived_config.h"
#include "ha/track_watchdog.h"

namespace lbd::ha {

void HaNode::register_admin_commands(AdminRegistry& registry) {
    registry.add(AdminRequest::kHaStatus, [this](const AdminRequest&, AdminResponse& response) {
        describe(*response.mutable_ha_status());
    });
    registry.add(AdminRequest::kHaFailover, [this](const AdminRequest& request, AdminResponse& response) {
        lbd::v1::HaFailoverReply reply;
        failover(request.ha_failover(), reply, response);
        if (!response.has_error()) *response.mutable_ha_failover() = std::move(reply);
    });
    registry.add(AdminRequest::kHaKeepalivedConfig, [this](const AdminRequest&, AdminResponse& response) {
        RenderOptions options;
        options.process_name = process_name_;
        options.track_process = track_process_wanted(config_.vrrp);
        response.mutable_ha_keepalived_config()->set_config(render_keepalived_config(config_, options));
    });
}

void HaNode::describe(lbd::v1::HaStatusReply& out) const {
    out.set_enabled(true);
    out.set_node_id(config_.node_id);
    out.set_cluster_id(config_.cluster_id);
    out.set_role(to_string(role_.role()));
    out.set_keepalived_state(keepalived_state_);
    out.set_vip_present(role_.vip_present());
    for (const std::string& vip : config_.vrrp.virtual_ips) out.add_virtual_ips(vip);
    out.set_track_value(track_value_);
    out.set_track_reason(track_reason_);
    out.set_role_age_ms(monotonic_ms() - role_since_ms_);
    if (handover_ran_) *out.mutable_handover() = handover_info_;
    if (!state_ || !link_) return;
    out.set_health_records(state_->health_count());
    out.set_stick_records(state_->stick_count());
    SyncLink::Stats stats = link_->stats();
    lbd::v1::HaPeerInfo& peer = *out.mutable_peer();
    peer.set_address(config_.sync.peer.to_string());
    peer.set_connected(stats.connected);
    peer.set_node_id(stats.peer_node_id);
    peer.set_synced(stats.synced_with_peer);
    if (stats.last_heard_ms_ago != UINT64_MAX) peer.set_last_heard_ms_ago(stats.last_heard_ms_ago);
    peer.set_queued_changes(stats.queued);
    peer.set_unacked_oldest_ms(stats.unacked_oldest_ms);
    peer.set_lag_p50_ms(link_->lag_percentile_ms(50));
    peer.set_lag_p99_ms(link_->lag_percentile_ms(99));
    peer.set_connects(stats.connects);
    peer.set_disconnects(stats.disconnects);
    peer.set_auth_failures(stats.auth_failures);
    for (const auto& [reason, count] : stats.refusals_sent) (*peer.mutable_refusals_sent())[reason] = count;
    for (const auto& [reason, count] : stats.refusals_received) (*peer.mutable_refusals_received())[reason] = count;
    peer.set_snapshots_sent(stats.snapshots_sent);
    peer.set_snapshots_received(stats.snapshots_received);
    peer.set_frames_sent(stats.frames_sent);
    peer.set_frames_received(stats.frames_received);
    peer.set_bytes_sent(stats.bytes_sent);
    peer.set_bytes_received(stats.bytes_received);
    peer.set_purges_sent(stats.purges_sent);
    peer.set_purges_received(stats.purges_received);
}

void HaNode::write_metrics(std::string& out) const {
    metric_header(out, "lbd_ha_role", "gauge", "1 for the node's role in the HA pair.");
    for (NodeRole r : {NodeRole::kStarting, NodeRole::kBackup, NodeRole::kMasterPending, NodeRole::kMaster, NodeRole::kFault})
        metric_sample(out, "lbd_ha_role", {{"role", to_string(r)}}, r == role_.role() ? 1 : 0);
    metric_header(out, "lbd_ha_vip_present", "gauge", "1 when every virtual IP is on this host.");
    metric_sample(out, "lbd_ha_vip_present", {}, role_.vip_present() ? 1 : 0);
    metric_header(out, "lbd_ha_track_value", "gauge", "The number lbd wrote to keepalived's track file.");
    metric_sample(out, "lbd_ha_track_value", {}, track_value_);
    if (!state_ || !link_) return;
    SyncLink::Stats stats = link_->stats();
    metric_header(out, "lbd_ha_peer_connected", "gauge", "1 when the sync link to the peer is up.");
    metric_sample(out, "lbd_ha_peer_connected", {}, stats.connected ? 1 : 0);
    metric_header(out, "lbd_ha_peer_synced", "gauge", "1 when this node holds the peer's full state.");
    metric_sample(out, "lbd_ha_peer_synced", {}, stats.synced_with_peer ? 1 : 0);
    metric_header(out, "lbd_ha_sync_records", "gauge", "Records the sync holds, by kind.");
    metric_sample(out, "lbd_ha_sync_records", {{"kind", "health"}}, double(state_->health_count()));
    metric_sample(out, "lbd_ha_sync_records", {{"kind", "stick"}}, double(state_->stick_count()));
    metric_header(out, "lbd_ha_sync_queued_changes", "gauge", "Local changes the peer has not acknowledged.");
    metric_sample(out, "lbd_ha_sync_queued_changes", {}, double(stats.queued));
    metric_header(out, "lbd_ha_sync_lag_seconds", "histogram",
                  "From a local change to the peer's acknowledgement of it.");
    link_->lag().write(out, "lbd_ha_sync_lag_seconds", "");
    metric_header(out, "lbd_ha_sync_frames_total", "counter", "Sync frames by direction.");
    metric_sample(out, "lbd_ha_sync_frames_total", {{"direction", "sent"}}, double(stats.frames_sent));
    metric_sample(out, "lbd_ha_sync_frames_total", {{"direction", "received"}}, double(stats.frames_received));
    metric_header(out, "lbd_ha_sync_bytes_total", "counter", "Sync bytes by direction.");
    metric_sample(out, "lbd_ha_sync_bytes_total", {{"direction", "sent"}}, double(stats.bytes_sent));
    metric_sample(out, "lbd_ha_sync_bytes_total", {{"direction", "received"}}, double(stats.bytes_received));
    metric_header(out, "lbd_ha_sync_purges_total", "counter",
                  "Cache purges by direction (sent: resends included).");
    metric_sample(out, "lbd_ha_sync_purges_total", {{"direction", "sent"}}, double(stats.purges_sent));
    metric_sample(out, "lbd_ha_sync_purges_total", {{"direction", "received"}}, double(stats.purges_received));
    metric_header(out, "lbd_ha_sync_connects_total", "counter", "Sync links established.");
    metric_sample(out, "lbd_ha_sync_connects_total", {}, double(stats.connects));
    metric_header(out, "lbd_ha_sync_auth_failures_total", "counter",
                  "Frames from the peer address that failed authentication.");
    metric_sample(out, "lbd_ha_sync_auth_failures_total", {}, double(stats.auth_failures));
    metric_header(out, "lbd_ha_sync_refusals_total", "counter", "Peers refused, by direction and reason.");
    for (const auto& [reason, count] : stats.refusals_sent)
        metric_sample(out, "lbd_ha_sync_refusals_total", {{"direction", "sent"}, {"reason", reason}}, double(count));
    for (const auto& [reason, count] : stats.refusals_received)
        metric_sample(out, "lbd_ha_sync_refusals_total", {{"direction", "received"}, {"reason", reason}},
                      double(count));
}

}  // namespace lbd::ha
