// Pools at run time, shared by all workers, and the per-worker picker that
// chooses a server for a new connection.
//
// A pool's server list is an immutable snapshot behind an atomic
// shared_ptr: admin commands (add/remove) publish a new list and bump the
// generation; workers pick the new list up when they see the generation
// change, and keep using their old snapshot until then.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/balance/balancer.h"
#include "core/config/config.h"
#include "core/balance/server.h"
#include "core/state/stick_table.h"

namespace lbd {

using ServerList = std::vector<std::shared_ptr<Server>>;

class Pool {
public:
    // `previous` is the pool of the same name in the configuration being
    // replaced (or null): its servers with the same name and address, and
    // its stick table, carry over to this pool. With a `previous`, nothing
    // of the running servers changes until activate().
    Pool(const PoolConfig& config, const Pool* previous);

    // Reload, control thread, once the reload is sure to apply (every tier
    // has prepared) and before any worker sees this pool: the kept servers
    // take this configuration's weight, limit, admin state and slow start,
    // and report their changes to this pool. Deferred from the constructor
    // so that a reload refused after the pools were built leaves the running
    // servers untouched (and pointing at the running pool). Idempotent.
    void activate();

    const PoolConfig& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    // The current servers. Any thread.
    std::shared_ptr<const ServerList> servers() const { return servers_.load(std::memory_order_acquire); }
    std::shared_ptr<Server> find_server(std::string_view name) const;
    // Bumped on every change that alters balancing (state, weight, list).
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // nullptr when the pool has no table: no stickiness, or cookie
    // stickiness in INSERT mode (the cookie names the server itself). Keys
    // are client IP bytes, or (cookie_mode() == kLearn) cookie values.
    StickTable* stick_table() const { return stick_table_.get(); }
    CookieMode cookie_mode() const { return config_.stickiness.cookie.mode; }

    // Admin, control thread only. Runtime changes last until the next reload
    // (the config file stays the source of truth, as with HAProxy's API).
    bool add_server(const ServerConfig& server, std::string* error);
    bool remove_server(std::string_view name, std::string* error);
    // Moves a server to another address (its name resolved to a new one,
    // core/daemon/server_names.h): a new Server object with the same name,
    // weight, limit, admin and health state replaces it in the list (an
    // unresolved one comes out of MAINT into its configured admin state).
    // No-op when the address is already that.
    bool set_server_address(std::string_view name, const SocketAddress& address, std::string* error);

private:
    void publish(ServerList list);

    // What activate() applies: kept servers' new settings, and the list.
    struct KeptServer {
        std::shared_ptr<Server> server;
        ServerConfig now;
        std::optional<ServerConfig> before;  // in the previous config, if it was there
    };
    std::vector<KeptServer> pending_kept_;
    std::optional<ServerList> pending_list_;

    PoolConfig config_;
    std::atomic<uint64_t> generation_{1};
    std::atomic<std::shared_ptr<const ServerList>> servers_;
    std::shared_ptr<StickTable> stick_table_;
};

// All pools of a configuration, by name.
class PoolSet {
public:
    // `previous`: the pools of the configuration being replaced, or null.
    PoolSet(const Config& config, const PoolSet* previous);
    // Every pool's activate().
    void activate();
    Pool* find(std::string_view name) const;
    const std::vector<std::unique_ptr<Pool>>& pools() const { return pools_; }

private:
    std::vector<std::unique_ptr<Pool>> pools_;
};

// One per pool per worker: owns that worker's balancer instance and its
// snapshot of the server list. Not thread-safe; used only on its worker.
class ServerPicker {
public:
    explicit ServerPicker(Pool& pool);

    Pool& pool() const { return pool_; }
    // A server for a client whose address is `client`, avoiding `excluded`:
    // the stick-table entry if it is usable, else the balancer's choice
    // (which then becomes the client's entry). nullptr when none is usable.
    std::shared_ptr<Server> pick(const SocketAddress& client, std::span<const Server* const> excluded);
    // The server named by a stickiness cookie: by Server::id() (`by_id`) or
    // by name, if it is UP, below its max_connections and not excluded;
    // else nullptr (the caller then picks anew).
    std::shared_ptr<Server> find_usable(std::string_view key, bool by_id, std::span<const Server* const> excluded);
    // True when some server is UP (even if all are at max_connections).
    bool any_up();
    // True when some server is UP and below its max_connections.
    bool any_free();
    size_t server_count();

private:
    void refresh();

    Pool& pool_;
    std::unique_ptr<Balancer> balancer_;
    uint64_t built_generation_ = 0;
    std::shared_ptr<const ServerList> servers_;
    std::vector<Server*> usable_;
};

}  // namespace lbd
