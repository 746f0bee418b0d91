// The daemon's view of this node's membership in an HA pair (ha/ha_node.h
// implements it). Core knows no more of the pair than this: lbd's main
// builds the real one when the config has global.ha.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/admin/admin_registry.h"
#include "core/balance/pool.h"
#include "core/config/config.h"

namespace lbd {

class PairMember {
public:
    virtual ~PairMember() = default;
    // Before the workers start. False with `error` if the pair cannot run.
    virtual bool start(std::string* error) = 0;
    // Pools of a configuration about to run (start, each reload): their
    // servers and stick tables report to the sync from their first change.
    virtual void watch(PoolSet& pools) = 0;
    // `lbctl ha ...`.
    virtual void register_admin_commands(AdminRegistry& registry) = 0;
    virtual void write_metrics(std::string& out) const = 0;
    // "master", "backup", ... as `lbctl status` shows it.
    virtual std::string role_name() const = 0;
    // Shutdown begins: the virtual IPs leave first, so the peer takes new
    // clients while this node drains.
    virtual void begin_shutdown() = 0;
    // What a planned handover asks of every tier (Tier::hand_over): stop
    // taking connections to `addresses` (raw IP bytes) without refusing
    // them and end the open ones cleanly within `drain_timeout_ms`; empty:
    // back to normal. The daemon sets it before start(); the member calls
    // it on the control thread.
    using HandOverFn =
        std::function<void(std::shared_ptr<const std::vector<std::string>> addresses, uint32_t drain_timeout_ms)>;
    virtual void set_hand_over(HandOverFn hand_over) = 0;
    // A cache purge made on this node (`lbctl cache purge`, already applied
    // to its zones): the member sends it to the peer, now or when the link
    // is back. Control thread.
    virtual void share_purge(const ::lbd::v1::CachePurgeRequest& request) = 0;
    // Applies a purge the peer made to this node's running cache zones (not
    // sent back: share_purge is for local purges only). The daemon sets it
    // before start(); the member calls it on the control thread, where the
    // running configuration changes on reload.
    using ApplyPurgeFn = std::function<void(const ::lbd::v1::CachePurgeRequest& request)>;
    virtual void set_apply_purge(ApplyPurgeFn apply) = 0;
};

// Builds the pair member on the control loop; `pools` gives the running
// configuration's pools whenever it is asked.
using PairFactory = std::function<std::unique_ptr<PairMember>(event_base* control, const HaConfig& config,
                                                              std::function<PoolSet&()> pools)>;

}  // namespace lbd
