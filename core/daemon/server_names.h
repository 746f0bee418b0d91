// Servers whose address is a name ("app.internal:8080") are resolved again
// every resolve.interval_ms on the control thread, through evdns
// (core/net/dns.h): no worker waits for a nameserver. When the answer no
// longer holds the address in use, the server moves to the answer's first
// address as a runtime server change does (Pool::set_server_address: a new
// server object in the pool's list; workers pick it up with the pool's
// generation, open connections finish on the old address), and the health
// checker is told (as after `lbctl server add`). A failed lookup keeps the
// address in use (HAProxy's `hold valid`), logged once per failure spell.
//
// Control thread only. Rebuilt by the daemon on start and on each reload.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/balance/pool.h"
#include "core/config/config.h"
#include "core/loop/event.h"
#include "core/net/dns.h"

namespace lbd {

class ServerNames {
public:
    // `servers_changed`: a server moved (the health checker syncs).
    ServerNames(event_base* base, std::function<void()> servers_changed)
        : base_(base), servers_changed_(std::move(servers_changed)) {}

    // Watches the names of `config`'s servers in `pools` (live) from now on;
    // what was watched before (an older configuration) is dropped.
    void watch(const Config& config, PoolSet& pools);

private:
    struct Entry {
        ServerNames* owner = nullptr;
        std::string pool;
        std::string server;
        std::string host;
        uint16_t port = 0;
        uint32_t interval_ms = 0;
        bool failing = false;
        EventPtr timer;
    };
    static void on_timer(evutil_socket_t, short, void* arg);
    void answered(Entry& entry, const DnsAnswer& answer);

    event_base* base_;
    std::function<void()> servers_changed_;
    PoolSet* pools_ = nullptr;
    // Bumped by watch(): an answer for an older configuration is dropped.
    uint64_t generation_ = 0;
    std::vector<std::unique_ptr<Entry>> entries_;
    std::unique_ptr<DnsResolver> resolver_;
    // Resolvers of older configurations with lookups in flight, kept until
    // they are idle (a DnsResolver must not go mid-lookup, core/net/dns.h).
    std::vector<std::unique_ptr<DnsResolver>> retired_;
};

}  // namespace lbd
