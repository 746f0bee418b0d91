#include "ha/ha_node.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/rand.h>

#include "core/base/log.h"
#include "ha/keepalived_config.h"
#include "ha/sync_codec.h"
#include "ha/vip_connections.h"

namespace lbd::ha {

namespace {

// How long a node that cannot reach its peer waits before it calls itself
// ready and serves alone; and how long it waits for a snapshot that is
// still arriving.
constexpr uint64_t kAloneGraceMs = 3000;
constexpr uint64_t kSnapshotGraceMs = 30000;
// A node whose VRRP link comes back stays FAULT (ineligible) until it has
// heard its peer since, or for this long at most. Without the hold it goes
// BACKUP at once, and its keepalived takes the VIP back after 3 adverts +
// skew (~140 ms at 40 ms adverts) unless the new master's adverts reach it
// by then: they do not when the new master's neighbour (ARP) entry for it
// went unresolved during the cut (INCOMPLETE: the adverts queue, and the
// kernel probes again only every retrans_time, 1 s by default) and the one
// gratuitous ARP keepalived sends for its own address as it leaves FAULT is
// lost because the switch port forwards only a moment after the link is up.
// lbd, an unprivileged process, cannot send ARP itself, nor can it make the
// kernel's probes come sooner; it can keep keepalived out of the election.
// Hearing the peer over the sync link proves the peer's packets reach this
// node, its adverts included; the grace covers a peer that is really gone:
// past one retrans_time (1 s) the peer's kernel has probed again and
// resolved this node. Measured: without the hold, a returning node whose
// gratuitous ARP was lost took the VIP back 460-680 ms after its link came
// up (README, "Failover tests", scenario c).
constexpr uint64_t kLinkReturnGraceMs = 2000;
// Readiness and the failover hold are checked on this tick.
constexpr uint32_t kTickMs = 50;

const char* vrrp_state_name(VrrpState state) {
    switch (state) {
        case VrrpState::kBackup: return "BACKUP";
        case VrrpState::kMaster: return "MASTER";
        case VrrpState::kFault: return "FAULT";
        case VrrpState::kStop: return "STOP";
    }
    return "?";
}

lbd::v1::ServerHealth::State to_record_state(ServerState state) {
    switch (state) {
        case ServerState::kUp: return lbd::v1::ServerHealth::UP;
        case ServerState::kDown: return lbd::v1::ServerHealth::DOWN;
        case ServerState::kDrain: return lbd::v1::ServerHealth::DRAIN;
        case ServerState::kMaint: return lbd::v1::ServerHealth::MAINT;
    }
    return lbd::v1::ServerHealth::STATE_UNSPECIFIED;
}

// Which kind of records a pool's stick table holds (pool.h).
lbd::v1::StickRecord::Kind stick_kind(const Pool& pool) {
    return pool.cookie_mode() == CookieMode::kLearn ? lbd::v1::StickRecord::COOKIE : lbd::v1::StickRecord::SOURCE_IP;
}

uint64_t random_u64() {
    uint64_t value = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value) != 1) value = realtime_ms();
    return value;
}

bool read_key(const std::string& path, std::string* key, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        *error = "ha sync: cannot read key_file " + path + ": " + strerror(errno);
        return false;
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    *key = bytes.str();
    if (key->size() < kMinSharedKeyBytes) {
        *error = "ha sync: key_file " + path + " holds " + std::to_string(key->size()) + " bytes; at least " +
                 std::to_string(kMinSharedKeyBytes) + " random bytes are needed";
        return false;
    }
    return true;
}

}  // namespace

HaNode::HaNode(event_base* control, const HaConfig& config, std::string process_name,
               std::function<PoolSet&()> current_pools)
    : base_(control),
      config_(config),
      process_name_(std::move(process_name)),
      current_pools_(std::move(current_pools)),
      tasks_(control),
      role_(vrrp_instance_name(config.vrrp)),
      // The peer takes over within 3 adverts of our priority-0 advert at
      // worst (master down interval); the rest is margin.
      failover_hold_ms_(2000 + 3 * uint64_t(config.vrrp.advert_interval_ms)),
      role_since_ms_(monotonic_ms()),
      started_ms_(monotonic_ms()),
      vip_bytes_(vip_address_bytes(config.vrrp.virtual_ips)) {}

HaNode::~HaNode() { Server::set_observer(nullptr); }

bool HaNode::start(std::string* error) {
    std::string key;
    if (!read_key(config_.sync.key_file, &key, error)) return false;

    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& pool : current_pools_().pools())
        for (const auto& server : *pool->servers()) names.emplace_back(pool->name(), server->name());

    SyncState::Options state_options;
    state_options.node_id = config_.node_id;
    state_options.boot_epoch = random_u64();
    // Seeds the Lamport clock above anything a previous life of this node
    // wrote (sync_state.h).
    state_options.clock_floor = realtime_ms() * 1000;
    state_ = std::make_unique<SyncState>(state_options);

    SyncLink::Options link_options;
    link_options.cluster_id = config_.cluster_id;
    link_options.listen = config_.sync.listen;
    link_options.peer = config_.sync.peer;
    link_options.shared_key = std::move(key);
    link_options.heartbeat_ms = config_.sync.heartbeat_ms;
    link_options.server_set_digest = server_set_digest(std::move(names));
    SyncLink::Observer& observer = *this;  // a private base: convert here, not in make_unique
    link_ = std::make_unique<SyncLink>(base_, std::move(link_options), *state_, observer);

    write_track(kTrackNotReady, "starting, not yet in sync with the peer");
    if (!watchdog_.start(config_.vrrp.track_file, error)) return false;
    LOG_INFO("ha: watchdog pid %d writes %d to %s when lbd exits", int(watchdog_.pid()), kTrackFault,
             config_.vrrp.track_file.c_str());
    fifo_ = std::make_unique<NotifyFifoReader>(base_, config_.vrrp.notify_fifo,
                                               [this](std::string_view line) { on_notify_line(line); });
    vip_ = std::make_unique<VipWatch>(base_, config_.vrrp.virtual_ips, [this](bool present) { on_vip(present); });
    vrrp_link_ = std::make_unique<LinkWatch>(base_, config_.vrrp.interface, [this](bool up) { on_vrrp_link(up); });
    if (!fifo_->start(error) || !vip_->start(error) || !link_->start(error) || !vrrp_link_->start(error)) return false;

    Server::set_observer(this);
    readiness_timer_ = make_event(base_, -1, EV_PERSIST, &HaNode::on_readiness_timer, this);
    timeval tick{0, kTickMs * 1000};
    event_add(readiness_timer_.get(), &tick);
    handover_timer_ = make_event(base_, -1, EV_PERSIST, &HaNode::on_handover_timer, this);
    LOG_INFO("ha: node %s of cluster %s, instance %s, sync %s <-> %s", config_.node_id.c_str(),
             config_.cluster_id.c_str(), vrrp_instance_name(config_.vrrp).c_str(),
             config_.sync.listen.to_string().c_str(), config_.sync.peer.to_string().c_str());
    return true;
}

void HaNode::watch(PoolSet& pools) {
    for (const auto& pool : pools.pools()) {
        StickTable* table = pool->stick_table();
        if (table == nullptr || table->has_change_listener()) continue;
        // Runs on workers (stick_table.h: in change order, no lock held).
        const auto kind = stick_kind(*pool);
        table->set_change_listener([this, name = pool->name(), kind](const StickChange& change) {
            tasks_.post([this, name, kind, change] { local_stick(name, kind, change); });
        });
    }
}

void HaNode::begin_shutdown() {
    shutting_down_ = true;
    write_track(kTrackFault, "lbd is stopping");
}

// --- local changes -> peer ---------------------------------------------------

void HaNode::server_state_changed(const Server& server, ServerState, ServerState, const char*) {
    tasks_.post([this, pool = server.pool_name(), name = server.name()] { local_health(pool, name); });
}

void HaNode::local_health(const std::string& pool_name, const std::string& server_name) {
    Pool* pool = current_pools_().find(pool_name);
    std::shared_ptr<Server> server = pool != nullptr ? pool->find_server(server_name) : nullptr;
    if (server == nullptr) return;  // removed meanwhile
    lbd::v1::ServerHealth record;
    record.set_pool(pool_name);
    record.set_server(server_name);
    record.set_state(to_record_state(server->state()));
    record.set_weight(server->weight());
    record.set_last_change_unix_ms(server->last_change_ms());
    // The state the sync already holds (the peer's write we just applied,
    // or our own): nothing new to tell.
    if (auto known = state_->find_health(pool_name, server_name);
        known && known->state() == record.state() && known->weight() == record.weight())
        return;
    if (uint64_t sequence = state_->record_local(std::move(record))) link_->local_change(sequence);
}

void HaNode::local_stick(const std::string& pool, lbd::v1::StickRecord::Kind kind, const StickChange& change) {
    lbd::v1::StickRecord record;
    record.set_pool(pool);
    record.set_kind(kind);
    record.set_key(change.key);
    record.set_server(change.server);
    record.set_ttl_remaining_ms(change.ttl_remaining_ms);
    record.set_erase(change.kind == StickChange::Kind::kErase);
    if (uint64_t sequence = state_->record_local(std::move(record), monotonic_ms())) link_->local_change(sequence);
}

void HaNode::share_purge(const lbd::v1::CachePurgeRequest& request) {
    if (!state_ || !link_) return;  // not started
    lbd::v1::CachePurge record;
    record.set_zone(request.zone());
    record.set_target(request.target());
    record.set_prefix(request.prefix());
    record.set_tag(request.tag());
    // Queued whether the link is up or not: resume or a snapshot delivers it.
    if (uint64_t sequence = state_->record_local(std::move(record), monotonic_ms())) link_->local_change(sequence);
}

// --- peer -> local -----------------------------------------------------------

void HaNode::remote_health(const lbd::v1::ServerHealth& health) {
    Pool* pool = current_pools_().find(health.pool());
    std::shared_ptr<Server> server = pool != nullptr ? pool->find_server(health.server()) : nullptr;
    if (server == nullptr) return;
    std::string reason = "synced from " + health.version().node_id();
    switch (health.state()) {
        case lbd::v1::ServerHealth::UP:
        case lbd::v1::ServerHealth::DOWN:
            // Health first, then the operator state, so a server does not
            // pass through the wrong effective state on its way.
            server->set_health(health.state() == lbd::v1::ServerHealth::UP ? HealthState::kUp : HealthState::kDown,
                               reason.c_str());
            server->set_admin_state(AdminState::kReady, reason.c_str());
            break;
        case lbd::v1::ServerHealth::DRAIN: server->set_admin_state(AdminState::kDrain, reason.c_str()); break;
        case lbd::v1::ServerHealth::MAINT: server->set_admin_state(AdminState::kMaint, reason.c_str()); break;
        default: return;  // SyncState refuses invalid records before us
    }
    if (health.weight() != 0) server->set_weight(health.weight());
}

void HaNode::remote_stick(const lbd::v1::StickRecord& stick) {
    // A pool holds one table, of one kind: a record of the other kind (the
    // peer's configuration differs, or is being reloaded) is not for it.
    // Hello's "cookie-stick" capability is not negotiated: the link sends
    // every record to every peer, and a node that predates cookie tables
    // dropped COOKIE records here, so mixed versions stay safe without it.
    // (SyncState keeps such records and passes them on in snapshots.)
    Pool* pool = current_pools_().find(stick.pool());
    StickTable* table = pool != nullptr ? pool->stick_table() : nullptr;
    if (table == nullptr || stick.kind() != stick_kind(*pool)) return;
    StickChange change{stick.erase() ? StickChange::Kind::kErase : StickChange::Kind::kSet, stick.key(),
                       stick.server(), stick.ttl_remaining_ms()};
    table->apply(change, monotonic_ms());
}

// The link delivers on this (the control) thread, the daemon's: no posting.
void HaNode::remote_purge(const lbd::v1::CachePurge& purge) {
    if (!apply_purge_) return;
    lbd::v1::CachePurgeRequest request;
    request.set_zone(purge.zone());
    request.set_target(purge.target());
    request.set_prefix(purge.prefix());
    request.set_tag(purge.tag());
    apply_purge_(request);
}

// The link logs it, and `ha status` reads the peer from the link's stats:
// nothing else here depends on the link being up.
void HaNode::link_changed(bool, const std::string&) {}

// --- role ---------------------------------------------------------------------

void HaNode::on_notify_line(std::string_view line) {
    std::optional<NotifyLine> parsed = parse_notify_line(line);
    if (!parsed) return;
    if (parsed->instance == vrrp_instance_name(config_.vrrp)) keepalived_state_ = vrrp_state_name(parsed->state);
    NodeRole previous = role_.role();
    if (role_.on_notify(*parsed)) role_changed(previous);
}

void HaNode::on_vip(bool present) {
    LOG_INFO("ha: virtual IPs %s", present ? "present" : "absent");
    NodeRole previous = role_.role();
    if (role_.on_vip(present)) role_changed(previous);
    if (!present && handover_ != Handover::kNone) handover_vip_left();
    update_readiness();  // a planned failover waits for the VIP to leave
}

void HaNode::on_vrrp_link(bool up) {
    if (shutting_down_ || !link_) return;
    if (!up) {
        LOG_INFO("ha: VRRP interface %s is down", config_.vrrp.interface.c_str());
        link_hold_ = LinkHold::kLinkDown;
        // keepalived is FAULT already (its interface is down); this keeps it
        // there when the link returns, until end_link_hold().
        write_track(kTrackFault, "VRRP interface down; held when it returns until the peer is heard");
        return;
    }
    if (link_hold_ != LinkHold::kLinkDown) return;  // up at start, or up again before a down was seen
    link_hold_ = LinkHold::kReturning;
    link_up_ms_ = monotonic_ms();
    LOG_INFO("ha: VRRP interface %s is up; FAULT held until the peer is heard (%llu ms at most)",
             config_.vrrp.interface.c_str(), static_cast<unsigned long long>(kLinkReturnGraceMs));
    // A dialer waiting out its backoff dials now: the handshake both proves
    // the path and makes the kernels resolve each other.
    if (!link_->stats().connected) link_->reconnect("the VRRP interface is back");
    update_readiness();
}

void HaNode::role_changed(NodeRole previous) {
    role_since_ms_ = monotonic_ms();
    LOG_INFO("ha role %s -> %s (keepalived %s, virtual IPs %s)", to_string(previous), to_string(role_.role()),
             keepalived_state_.empty() ? "silent" : keepalived_state_.c_str(),
             role_.vip_present() ? "present" : "absent");
}

// --- readiness and the track file ---------------------------------------------

void HaNode::on_readiness_timer(evutil_socket_t, short, void* arg) { static_cast<HaNode*>(arg)->update_readiness(); }

void HaNode::update_readiness() {
    if (shutting_down_ || !link_) return;
    uint64_t now = monotonic_ms();
    if (link_hold_ != LinkHold::kNone && !end_link_hold(now)) return;
    if (failover_active_) {
        if (role_.vip_present()) return;
        if (failover_vip_gone_ms_ == 0) failover_vip_gone_ms_ = now;
        if (now - failover_vip_gone_ms_ < failover_hold_ms_) return;
        failover_active_ = false;
        write_track(kTrackReady, "planned failover done");
        return;
    }
    if (ready_) return;
    SyncLink::Stats stats = link_->stats();
    const char* reason = nullptr;
    if (stats.synced_with_peer)
        reason = "in sync with the peer";
    else if (!stats.connected && now - started_ms_ >= kAloneGraceMs)
        reason = "peer unreachable since start, serving alone";
    else if (now - started_ms_ >= kSnapshotGraceMs)
        reason = "peer's snapshot still incomplete after 30 s";
    if (reason == nullptr) return;
    ready_ = true;
    write_track(kTrackReady, reason);
}

// True once the hold after the VRRP link came back is over (the track file
// then says what it said before, unless a planned failover still holds FAULT).
bool HaNode::end_link_hold(uint64_t now) {
    if (link_hold_ == LinkHold::kLinkDown) return false;
    const SyncLink::Stats stats = link_->stats();
    const bool heard = stats.connected && stats.last_heard_ms_ago < now - link_up_ms_;
    if (!heard && now - link_up_ms_ < kLinkReturnGraceMs) return false;
    link_hold_ = LinkHold::kNone;
    const char* reason = heard ? "VRRP interface back, peer heard since" : "VRRP interface back, peer not heard";
    if (!failover_active_) write_track(ready_ ? kTrackReady : kTrackNotReady, reason);
    return true;
}

// Written whole to a temporary file and renamed over the tracked one, so
// keepalived (which reads it on inotify events) never sees half a number.
void HaNode::write_track(int value, const char* reason) {
    track_value_ = value;
    track_reason_ = reason;
    const std::string& path = config_.vrrp.track_file;
    std::string temporary = path + ".tmp";
    char text[16];
    int length = std::snprintf(text, sizeof text, "%d\n", value);
    UniqueFd fd(open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    bool ok = fd && write(fd.get(), text, size_t(length)) == length;
    fd.reset();
    if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
        LOG_ERROR("ha: cannot write track file %s: %s", path.c_str(), strerror(errno));
        return;
    }
    LOG_INFO("ha: track file %s = %d (%s)", path.c_str(), value, reason);
}

}  // namespace lbd::ha
