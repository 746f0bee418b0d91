#include "core/daemon/server_names.h"

#include <algorithm>

#include "core/base/log.h"

namespace lbd {

void ServerNames::watch(const Config& config, PoolSet& pools) {
    ++generation_;
    if (resolver_ != nullptr) retired_.push_back(std::move(resolver_));
    std::erase_if(retired_, [](const auto& r) { return r->pending() == 0; });
    entries_.clear();
    pools_ = &pools;
    for (const PoolConfig& pc : config.pools) {
        for (const ServerConfig& sc : pc.servers) {
            if (sc.host.empty()) continue;
            auto entry = std::make_unique<Entry>();
            entry->owner = this;
            entry->pool = pc.name;
            entry->server = sc.name;
            entry->host = sc.host;
            entry->port = sc.host_port;
            entry->interval_ms = sc.resolve_interval_ms;
            entry->timer = make_event(base_, -1, 0, &ServerNames::on_timer, entry.get());
            arm_timer(entry->timer.get(), entry->interval_ms);
            entries_.push_back(std::move(entry));
        }
    }
    if (!entries_.empty()) resolver_ = std::make_unique<DnsResolver>(base_, config.global.resolvers);
}

void ServerNames::on_timer(evutil_socket_t, short, void* arg) {
    auto* entry = static_cast<Entry*>(arg);
    ServerNames* self = entry->owner;
    std::erase_if(self->retired_, [](const auto& r) { return r->pending() == 0; });
    // `entry` is alive while the generation stands (watch() drops entries).
    self->resolver_->resolve(entry->host, [self, entry, generation = self->generation_](DnsAnswer answer) {
        if (generation != self->generation_) return;
        self->answered(*entry, answer);
        arm_timer(entry->timer.get(), entry->interval_ms);
    });
}

void ServerNames::answered(Entry& entry, const DnsAnswer& answer) {
    Pool* pool = pools_->find(entry.pool);
    std::shared_ptr<Server> server = pool != nullptr ? pool->find_server(entry.server) : nullptr;
    if (server == nullptr) return;  // removed with lbctl
    if (answer.addresses.empty()) {
        if (!entry.failing)
            LOG_WARN("server %s/%s: cannot resolve '%s' (%s); keeping %s", entry.pool.c_str(), entry.server.c_str(),
                     entry.host.c_str(), answer.error.c_str(),
                     server->address().family() == AF_UNSPEC ? "it out of service" : server->address().to_string().c_str());
        entry.failing = true;
        return;
    }
    entry.failing = false;
    std::vector<SocketAddress> candidates = answer.addresses;
    for (SocketAddress& a : candidates) a.set_port(entry.port);
    // The address in use stands while the answer holds it: a name with
    // several addresses (round-robin DNS) does not move the server on each
    // lookup.
    if (std::find(candidates.begin(), candidates.end(), server->address()) != candidates.end()) return;
    std::string error;
    if (!pool->set_server_address(entry.server, candidates.front(), &error)) return;
    servers_changed_();
}

}  // namespace lbd
