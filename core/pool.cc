#include "core/pool.h"

#include "core/event.h"
#include "core/hash.h"
#include "core/log.h"

namespace lbd {

Pool::Pool(const PoolConfig& config) : config_(config) {
    // With active checks configured to start DOWN, servers wait for `rise`
    // successes; otherwise they start UP and checks take them down.
    HealthState initial = config.health_check.enabled && config.health_check.start_down ? HealthState::kDown
                                                                                          : HealthState::kUp;
    for (const ServerConfig& sc : config.servers) {
        servers_.push_back(std::make_unique<Server>(config.name, sc.name, sc.address, sc.weight, sc.max_connections,
                                                    sc.admin_state, initial));
    }
    set_state_listener(nullptr);
    if (config.stickiness.enabled) {
        stick_table_ = std::make_unique<StickTable>(config.name, config.stickiness.ttl_ms, config.stickiness.capacity);
    }
}

Server* Pool::find_server(std::string_view name) const {
    for (const auto& server : servers_)
        if (server->name() == name) return server.get();
    return nullptr;
}

void Pool::set_state_listener(Server::StateListener listener) {
    for (const auto& server : servers_) {
        server->attach(&generation_, [listener](const Server& s, ServerState old_state, ServerState new_state,
                                                const char* reason) {
            LOG_INFO("server %s/%s is %s (%s; was %s)", s.pool_name().c_str(), s.name().c_str(),
                     to_string(new_state), reason, to_string(old_state));
            if (listener) listener(s, old_state, new_state, reason);
        });
    }
}

PoolSet::PoolSet(const Config& config) {
    for (const PoolConfig& pc : config.pools) pools_.push_back(std::make_unique<Pool>(pc));
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
    usable_.clear();
    for (const auto& server : pool_.servers())
        if (server->is_up()) usable_.push_back(server.get());
    balancer_->rebuild(usable_);
}

bool ServerPicker::any_up() {
    refresh();
    return !usable_.empty();
}

Server* ServerPicker::pick(const SocketAddress& client, std::span<const Server* const> excluded) {
    refresh();
    PickContext ctx;
    std::string_view ip = client.ip_bytes();
    ctx.client_hash = hash64(ip);
    ctx.excluded = excluded;

    StickTable* table = pool_.stick_table();
    uint64_t now = table != nullptr ? monotonic_ms() : 0;
    if (table != nullptr) {
        if (auto name = table->lookup(ip, now)) {
            Server* stuck = pool_.find_server(*name);
            if (stuck != nullptr && !ctx.skip(stuck)) return stuck;
        }
    }
    Server* chosen = balancer_->pick(ctx);
    // The client's entry follows its server: a client re-placed because its
    // server went down stays on the new one from now on.
    if (chosen != nullptr && table != nullptr) table->set(ip, chosen->name(), now);
    return chosen;
}

}  // namespace lbd
