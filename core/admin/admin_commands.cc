#include "core/admin/admin_commands.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/base/clock.h"
#include "core/config/config_check.h"

namespace lbd {

namespace {

using ::lbd::v1::AdminError;

constexpr uint32_t kMaxWeight = 256;

// Source-IP tables key clients by their raw address bytes.
std::string key_to_text(const std::string& key) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (key.size() == 4) inet_ntop(AF_INET, key.data(), buf, sizeof buf);
    if (key.size() == 16) inet_ntop(AF_INET6, key.data(), buf, sizeof buf);
    return buf;
}

bool text_to_key(const std::string& text, std::string* key) {
    unsigned char bytes[16];
    if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
        key->assign(reinterpret_cast<char*>(bytes), 4);
        return true;
    }
    if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
        key->assign(reinterpret_cast<char*>(bytes), 16);
        return true;
    }
    return false;
}

// Looks up pool (and server) named in a request, or answers NOT_FOUND.
Pool* find_pool(PoolSet& pools, const std::string& name, AdminResponse& response) {
    Pool* pool = pools.find(name);
    if (pool == nullptr) admin_error(response, AdminError::NOT_FOUND, "no pool named '" + name + "'");
    return pool;
}

std::shared_ptr<Server> find_server(PoolSet& pools, const std::string& pool_name, const std::string& name, AdminResponse& response) {
    Pool* pool = find_pool(pools, pool_name, response);
    if (pool == nullptr) return nullptr;
    std::shared_ptr<Server> server = pool->find_server(name);
    if (server == nullptr)
        admin_error(response, AdminError::NOT_FOUND, "no server named '" + name + "' in pool '" + pool_name + "'");
    return server;
}

StickTable* find_table(PoolSet& pools, const std::string& pool_name, AdminResponse& response) {
    Pool* pool = find_pool(pools, pool_name, response);
    if (pool == nullptr) return nullptr;
    if (pool->stick_table() == nullptr)
        admin_error(response, AdminError::FAILED_PRECONDITION,
                    "pool '" + pool_name + "' has " +
                        (pool->cookie_mode() == CookieMode::kInsert ? "INSERT cookies, which need no table"
                                                                     : "no stickiness"));
    return pool->stick_table();
}

AdminState to_admin_state(::lbd::v1::AdminState state) {
    switch (state) {
        case ::lbd::v1::ADMIN_STATE_DRAIN: return AdminState::kDrain;
        case ::lbd::v1::ADMIN_STATE_MAINT: return AdminState::kMaint;
        default: return AdminState::kReady;
    }
}

}  // namespace

void describe_server(const Server& server, ::lbd::v1::ServerInfo& out) {
    out.set_pool(server.pool_name());
    out.set_name(server.name());
    out.set_id(server.id());
    out.set_address(server.address().to_string());
    out.set_state(to_string(server.state()));
    out.set_health(to_string(server.health()));
    out.set_admin_state(to_string(server.admin_state()));
    out.set_weight(server.weight());
    out.set_effective_weight(server.effective_weight());
    out.set_max_connections(server.max_connections());
    out.set_active_connections(server.active_connections());
    out.set_total_connections(server.counters.connections_total.load(std::memory_order_relaxed));
    out.set_connect_failures(server.counters.connect_failures.load(std::memory_order_relaxed));
    out.set_bytes_to_server(server.counters.bytes_to_server.load(std::memory_order_relaxed));
    out.set_bytes_from_server(server.counters.bytes_from_server.load(std::memory_order_relaxed));
    out.set_last_change_unix_ms(server.last_change_ms());
}

void register_pool_commands(AdminRegistry& registry, CurrentPools current, std::function<void()> servers_changed,
                            CloseIdleFn close_idle) {
    registry.add(AdminRequest::kServers, [current](const AdminRequest& request, AdminResponse& response) {
        PoolSet& pools = current();
        const std::string& only = request.servers().pool();
        if (!only.empty() && find_pool(pools, only, response) == nullptr) return;
        auto* reply = response.mutable_servers();
        for (const auto& pool : pools.pools()) {
            if (!only.empty() && pool->name() != only) continue;
            for (const auto& server : *pool->servers()) describe_server(*server, *reply->add_servers());
        }
    });

    registry.add(AdminRequest::kSetServerState, [current, close_idle](const AdminRequest& request,
                                                                     AdminResponse& response) {
        PoolSet& pools = current();
        const auto& args = request.set_server_state();
        std::shared_ptr<Server> server = find_server(pools, args.pool(), args.server(), response);
        if (server == nullptr) return;
        const AdminState state = to_admin_state(args.admin_state());
        server->set_admin_state(state, "set by admin");
        // Nothing will reuse an idle keep-alive connection to a server that
        // takes no new requests: close them now rather than at their idle
        // timeout, so the server sees its drain at once.
        const size_t closed = state == AdminState::kReady ? 0 : close_idle(server);
        describe_server(*server, *response.mutable_server());
        response.mutable_server()->set_idle_connections_closed(static_cast<uint32_t>(closed));
    });

    registry.add(AdminRequest::kSetServerWeight, [current](const AdminRequest& request, AdminResponse& response) {
        PoolSet& pools = current();
        const auto& args = request.set_server_weight();
        if (args.weight() < 1 || args.weight() > kMaxWeight) {
            admin_error(response, AdminError::INVALID_ARGUMENT,
                        "weight " + std::to_string(args.weight()) + " out of range 1..256");
            return;
        }
        std::shared_ptr<Server> server = find_server(pools, args.pool(), args.server(), response);
        if (server == nullptr) return;
        server->set_weight(args.weight());
        describe_server(*server, *response.mutable_server());
    });

    registry.add(AdminRequest::kAddServer, [current, servers_changed](const AdminRequest& request,
                                                                     AdminResponse& response) {
        PoolSet& pools = current();
        const auto& args = request.add_server();
        Pool* pool = find_pool(pools, args.pool(), response);
        if (pool == nullptr) return;
        ServerConfig sc;
        sc.name = args.name();
        auto address = SocketAddress::parse(args.address());
        // The config loader's rule (not the locale's isalnum): names appear in logs and metrics labels.
        const bool name_ok = !sc.name.empty() && config_check::plain_name(sc.name);
        if (!name_ok) {
            admin_error(response, AdminError::INVALID_ARGUMENT,
                        "server name '" + sc.name + "' must be non-empty and use only letters, digits and . _ - :");
            return;
        }
        if (!address || address->port() == 0) {
            admin_error(response, AdminError::INVALID_ARGUMENT,
                        "bad address '" + args.address() + "': expected host:port or [v6]:port");
            return;
        }
        sc.address = *address;
        sc.weight = args.weight() == 0 ? 1 : args.weight();
        if (sc.weight > kMaxWeight) {
            admin_error(response, AdminError::INVALID_ARGUMENT,
                        "weight " + std::to_string(sc.weight) + " out of range 1..256");
            return;
        }
        sc.max_connections = args.max_connections();
        std::string error;
        if (!pool->add_server(sc, &error)) {
            admin_error(response, AdminError::FAILED_PRECONDITION, error);
            return;
        }
        servers_changed();
        describe_server(*pool->find_server(sc.name), *response.mutable_server());
    });

    registry.add(AdminRequest::kRemoveServer, [current, servers_changed](const AdminRequest& request,
                                                                        AdminResponse& response) {
        PoolSet& pools = current();
        const auto& args = request.remove_server();
        std::shared_ptr<Server> server = find_server(pools, args.pool(), args.name(), response);
        if (server == nullptr) return;
        std::string error;
        if (!pools.find(args.pool())->remove_server(args.name(), &error)) {
            admin_error(response, AdminError::NOT_FOUND, error);
            return;
        }
        servers_changed();
        describe_server(*server, *response.mutable_server());
    });

    registry.add(AdminRequest::kStickShow, [current](const AdminRequest& request, AdminResponse& response) {
        PoolSet& pools = current();
        StickTable* table = find_table(pools, request.stick_show().pool(), response);
        if (table == nullptr) return;
        auto* reply = response.mutable_stick_show();
        reply->set_pool(request.stick_show().pool());
        reply->set_capacity(static_cast<uint32_t>(table->capacity()));
        reply->set_ttl_ms(table->ttl_ms());
        // Cookie tables (LEARN) are keyed by the cookie's value, as text.
        const bool cookies = pools.find(request.stick_show().pool())->cookie_mode() == CookieMode::kLearn;
        for (const StickEntry& entry : table->snapshot(monotonic_ms())) {
            auto* info = reply->add_entries();
            info->set_key(cookies ? entry.key : key_to_text(entry.key));
            info->set_server(entry.server);
            info->set_ttl_remaining_ms(entry.ttl_remaining_ms);
        }
    });

    registry.add(AdminRequest::kStickFlush, [current](const AdminRequest& request, AdminResponse& response) {
        PoolSet& pools = current();
        StickTable* table = find_table(pools, request.stick_flush().pool(), response);
        if (table == nullptr) return;
        // Entry by entry rather than clear(): each erase is reported, so an
        // HA peer flushes its copy too.
        size_t removed = 0;
        for (const StickEntry& entry : table->snapshot(monotonic_ms())) {
            table->erase(entry.key);
            ++removed;
        }
        response.mutable_stick_flush()->set_removed(removed);
    });

    registry.add(AdminRequest::kStickSet, [current](const AdminRequest& request, AdminResponse& response) {
        PoolSet& pools = current();
        const auto& args = request.stick_set();
        StickTable* table = find_table(pools, args.pool(), response);
        if (table == nullptr) return;
        if (pools.find(args.pool())->find_server(args.server()) == nullptr) {
            admin_error(response, AdminError::NOT_FOUND,
                        "no server named '" + args.server() + "' in pool '" + args.pool() + "'");
            return;
        }
        std::string key = args.key();
        const bool cookies = pools.find(args.pool())->cookie_mode() == CookieMode::kLearn;
        if (!cookies && !text_to_key(args.key(), &key)) {
            admin_error(response, AdminError::INVALID_ARGUMENT, "key '" + args.key() + "' is not an IP address");
            return;
        }
        table->set(key, args.server(), monotonic_ms());
        auto* reply = response.mutable_stick_show();
        reply->set_pool(args.pool());
        auto* info = reply->add_entries();
        info->set_key(args.key());
        info->set_server(args.server());
        info->set_ttl_remaining_ms(table->ttl_ms());
    });
}

}  // namespace lbd
