#include "core/balance/pool.h"

#include "core/base/clock.h"
#include "core/base/hash.h"
#include "core/base/log.h"

namespace lbd {

namespace {

std::shared_ptr<Server> make_server(const PoolConfig& pool, const ServerConfig& sc) {
    // With active checks configured to start DOWN, servers wait for `rise`
    // successes; otherwise they start UP and checks take them down.
    HealthState initial =
        pool.health_check.enabled && pool.health_check.start_down ? HealthState::kDown : HealthState::kUp;
    // A name that did not resolve at load (resolve { optional: true }): no
    // traffic and no checks until it does (set_server_address).
    const AdminState admin = sc.unresolved ? AdminState::kMaint : sc.admin_state;
    return std::make_shared<Server>(pool.name, sc.name, sc.address, sc.weight, sc.max_connections, admin, initial);
}

const ServerConfig* find_config(const PoolConfig& pool, std::string_view name) {
    for (const ServerConfig& sc : pool.servers)
        if (sc.name == name) return &sc;
    return nullptr;
}

// A kept server takes the new config's weight and limit; its admin state
// changes only if the config changed it (a drain done with lbctl survives a
// reload that is about something else).
void update_kept(Server& server, const ServerConfig& now, const ServerConfig* before) {
    server.set_weight(now.weight);
    server.set_max_connections(now.max_connections);
    if (now.unresolved) return;  // stays in MAINT until its name resolves
    if (before == nullptr || before->admin_state != now.admin_state)
        server.set_admin_state(now.admin_state, "config reloaded");
}

}  // namespace

Pool::Pool(const PoolConfig& config, const Pool* previous) : config_(config) {
    ServerList list;
    auto old_list = previous != nullptr ? previous->servers() : nullptr;
    for (const ServerConfig& sc : config.servers) {
        std::shared_ptr<Server> kept;
        if (old_list) {
            for (const auto& s : *old_list)
                if (s->name() == sc.name && s->address() == sc.address) kept = s;
        }
        if (kept) {
            const ServerConfig* before = find_config(previous->config(), sc.name);
            pending_kept_.push_back({kept, sc, before != nullptr ? std::optional(*before) : std::nullopt});
            list.push_back(std::move(kept));
        } else {
            list.push_back(make_server(config, sc));
        }
    }
    if (previous == nullptr) {
        publish(std::move(list));  // nothing shared with a running pool
    } else {
        servers_.store(std::make_shared<const ServerList>(), std::memory_order_release);
        pending_list_ = std::move(list);
    }

    // INSERT cookies name the server themselves: no table.
    if (config.stickiness.enabled && cookie_mode() != CookieMode::kInsert) {
        // A table of the other kind (IPs vs cookie values) does not carry over.
        StickTable* old_table =
            previous != nullptr && previous->cookie_mode() == cookie_mode() ? previous->stick_table() : nullptr;
        if (old_table != nullptr && old_table->ttl_ms() == config.stickiness.ttl_ms &&
            old_table->capacity() == config.stickiness.capacity) {
            stick_table_ = previous->stick_table_;
        } else {
            stick_table_ = std::make_shared<StickTable>(config.name, config.stickiness.ttl_ms, config.stickiness.capacity);
            if (old_table != nullptr) {
                // Resized or re-timed: the entries move over, capped by the new TTL.
                uint64_t now = monotonic_ms();
                for (const StickEntry& e : old_table->snapshot(now))
                    stick_table_->apply(StickChange{StickChange::Kind::kSet, e.key, e.server, e.ttl_remaining_ms}, now);
            }
        }
    }
}

void Pool::activate() {
    for (const KeptServer& k : pending_kept_) update_kept(*k.server, k.now, k.before ? &*k.before : nullptr);
    pending_kept_.clear();
    if (pending_list_) publish(std::move(*pending_list_));
    pending_list_.reset();
}

void Pool::publish(ServerList list) {
    for (const auto& server : list) {
        server->set_slow_start(config_.slow_start_ms);
        server->attach(&generation_);
    }
    servers_.store(std::make_shared<const ServerList>(std::move(list)), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<Server> Pool::find_server(std::string_view name) const {
    auto list = servers();
    for (const auto& server : *list)
        if (server->name() == name) return server;
    return nullptr;
}

bool Pool::add_server(const ServerConfig& sc, std::string* error) {
    auto list = servers();
    for (const auto& server : *list) {
        if (server->name() == sc.name) {
            *error = "pool '" + name() + "' already has a server named '" + sc.name + "'";
            return false;
        }
    }
    ServerList next = *list;
    next.push_back(make_server(config_, sc));
    publish(std::move(next));
    LOG_INFO("server %s/%s added at %s (admin)", name().c_str(), sc.name.c_str(), sc.address.to_string().c_str());
    return true;
}

bool Pool::remove_server(std::string_view server_name, std::string* error) {
    auto list = servers();
    ServerList next;
    for (const auto& server : *list)
        if (server->name() != server_name) next.push_back(server);
    if (next.size() == list->size()) {
        *error = "no server named '" + std::string(server_name) + "' in pool '" + name() + "'";
        return false;
    }
    // Open connections keep the server object alive until they end.
    publish(std::move(next));
    LOG_INFO("server %s/%.*s removed (admin)", name().c_str(), static_cast<int>(server_name.size()), server_name.data());
    return true;
}

bool Pool::set_server_address(std::string_view server_name, const SocketAddress& address, std::string* error) {
    auto list = servers();
    ServerList next = *list;
    for (auto& server : next) {
        if (server->name() != server_name) continue;
        if (server->address() == address) return true;
        // A server's address is read by workers without a lock, so it never
        // changes in place: a new server takes the name, its settings and
        // states; connections open to the old one finish there.
        const ServerConfig* sc = find_config(config_, server_name);
        const bool was_unresolved = sc != nullptr && sc->unresolved && server->address().family() == AF_UNSPEC;
        const AdminState admin = was_unresolved ? sc->admin_state : server->admin_state();
        LOG_INFO("server %s/%s: address %s -> %s (%s)", name().c_str(), server->name().c_str(),
                 was_unresolved ? "unresolved" : server->address().to_string().c_str(), address.to_string().c_str(),
                 sc != nullptr && !sc->host.empty() ? sc->host.c_str() : "runtime change");
        server = std::make_shared<Server>(config_.name, server->name(), address, server->weight(),
                                          server->max_connections(), admin, server->health());
        publish(std::move(next));
        return true;
    }
    *error = "no server named '" + std::string(server_name) + "' in pool '" + name() + "'";
    return false;
}

PoolSet::PoolSet(const Config& config, const PoolSet* previous) {
    for (const PoolConfig& pc : config.pools) {
        const Pool* old = previous != nullptr ? previous->find(pc.name) : nullptr;
        pools_.push_back(std::make_unique<Pool>(pc, old));
    }
}

void PoolSet::activate() {
    for (const auto& pool : pools_) pool->activate();
}

Pool* PoolSet::find(std::string_view name) const {
    for (const auto& pool : pools_)
        if (pool->name() == name) return pool.get();
    return nullptr;
}

ServerPicker::ServerPicker(Pool& pool) : pool_(pool) {
    BalancerOptions options;
    options.maglev_table_size = pool.config().maglev_table_size;
    balancer_ = BalancerRegistry::create(pool.config().balance, options);
}

void ServerPicker::refresh() {
    uint64_t generation = pool_.generation();
    if (generation == built_generation_) return;
    built_generation_ = generation;
    servers_ = pool_.servers();
    usable_.clear();
    for (const auto& server : *servers_)
        if (server->is_up()) usable_.push_back(server.get());
    balancer_->rebuild(usable_);
}

std::shared_ptr<Server> ServerPicker::find_usable(std::string_view key, bool by_id,
                                                 std::span<const Server* const> excluded) {
    refresh();
    PickContext ctx;
    ctx.excluded = excluded;
    for (const auto& server : *servers_)
        if ((by_id ? server->id() : server->name()) == key) return ctx.skip(server.get()) ? nullptr : server;
    return nullptr;
}

bool ServerPicker::any_up() {
    refresh();
    return !usable_.empty();
}

bool ServerPicker::any_free() {
    refresh();
    for (const Server* server : usable_)
        if (server->is_up() && !server->at_capacity()) return true;
    return false;
}

size_t ServerPicker::server_count() {
    refresh();
    return servers_->size();
}

std::shared_ptr<Server> ServerPicker::pick(const SocketAddress& client, std::span<const Server* const> excluded) {
    refresh();
    PickContext ctx;
    std::string_view ip = client.ip_bytes();
    ctx.client_hash = hash64(ip);
    ctx.excluded = excluded;

    // A cookie table is the L7 session's business (l7/cookie_sticky.h).
    StickTable* table = pool_.cookie_mode() == CookieMode::kNone ? pool_.stick_table() : nullptr;
    uint64_t now = table != nullptr ? monotonic_ms() : 0;
    if (table != nullptr) {
        if (auto name = table->lookup(ip, now)) {
            for (const auto& s : *servers_)
                if (s->name() == *name && !ctx.skip(s.get())) return s;
        }
    }
    Server* chosen = balancer_->pick(ctx);
    if (chosen == nullptr) return nullptr;
    // The client's entry follows its server: a client re-placed because its
    // server went down stays on the new one from now on.
    if (table != nullptr) table->set(ip, chosen->name(), now);
    // Aliasing: the pointer owns this worker's snapshot of the server list,
    // which owns the server, so no search is needed to hand out ownership.
    return std::shared_ptr<Server>(servers_, chosen);
}

}  // namespace lbd
