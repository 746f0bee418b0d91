#include "core/config/config_resolve.h"

#include <string>
#include <utility>
#include <vector>

namespace lbd::config_check {

namespace {

constexpr uint32_t kMinResolveIntervalMs = 100;

}  // namespace

DnsSettings check_resolvers(const pb::Resolvers& msg, const Node& node, Errors& errors) {
    using F = pb::Resolvers;
    DnsSettings out;
    for (int i = 0; i < msg.nameservers_size(); ++i) {
        auto address = SocketAddress::parse(msg.nameservers(i));
        if (!address || address->port() == 0)
            errors.add(node.at(F::kNameserversFieldNumber, i),
                       "bad nameserver " + quote(msg.nameservers(i)) + ": expected ip:port, e.g. 10.0.0.53:53");
        else
            out.nameservers.push_back(*address);
    }
    out.timeout_ms = or_default(msg.timeout_ms(), out.timeout_ms);
    out.attempts = or_default(msg.attempts(), out.attempts);
    if (out.attempts > 10)
        errors.add(node.at(F::kAttemptsFieldNumber), "attempts " + std::to_string(out.attempts) + " out of range 1..10");
    if (out.timeout_ms > 60000)
        errors.add(node.at(F::kTimeoutMsFieldNumber),
                   "timeout_ms " + std::to_string(out.timeout_ms) + " out of range 1..60000");
    return out;
}

bool check_server_name(const pb::Server& msg, const Node& node, ServerConfig& out, Errors& errors) {
    using F = pb::Server;
    std::string host;
    uint16_t port = 0;
    const bool named = !SocketAddress::parse(msg.address()) && split_host_port(msg.address(), &host, &port) &&
                       is_host_name(host);
    if (!named) {
        if (msg.has_resolve())
            errors.add(node.at(F::kResolveFieldNumber), "resolve is only for an address given by name (name:port)");
        return false;
    }
    out.host = host;
    out.host_port = port;
    const pb::ServerResolve& resolve = msg.resolve();
    out.resolve_interval_ms = or_default(resolve.interval_ms(), out.resolve_interval_ms);
    out.resolve_optional = resolve.optional();
    if (out.resolve_interval_ms < kMinResolveIntervalMs)
        errors.add(node.child(F::kResolveFieldNumber).at(pb::ServerResolve::kIntervalMsFieldNumber),
                   "resolve interval_ms " + std::to_string(out.resolve_interval_ms) + " is below " +
                       std::to_string(kMinResolveIntervalMs));
    return true;
}

void resolve_server_names(Config& config, const Node& root, Errors& errors) {
    std::vector<std::string> names;
    std::vector<std::pair<size_t, size_t>> where;  // (pool, server) of each name
    for (size_t p = 0; p < config.pools.size(); ++p)
        for (size_t s = 0; s < config.pools[p].servers.size(); ++s)
            if (!config.pools[p].servers[s].host.empty()) {
                names.push_back(config.pools[p].servers[s].host);
                where.emplace_back(p, s);
            }
    if (names.empty()) return;
    std::vector<DnsAnswer> answers = resolve_names_now(names, config.global.resolvers);
    for (size_t i = 0; i < names.size(); ++i) {
        ServerConfig& sc = config.pools[where[i].first].servers[where[i].second];
        if (!answers[i].addresses.empty()) {
            sc.address = answers[i].addresses.front();
            sc.address.set_port(sc.host_port);
            continue;
        }
        if (sc.resolve_optional) {
            sc.unresolved = true;
            continue;
        }
        const Node server = root.child(pb::Config::kPoolsFieldNumber, static_cast<int>(where[i].first))
                                .child(pb::Pool::kServersFieldNumber, static_cast<int>(where[i].second));
        errors.add(server.at(pb::Server::kAddressFieldNumber),
                   label("server", sc.name, static_cast<int>(where[i].second)) + ": cannot resolve " + quote(sc.host) +
                       " (" + answers[i].error +
                       "); fix the name or its resolvers, or mark it resolve { optional: true } to start it "
                       "in MAINT until it resolves");
    }
}

}  // namespace lbd::config_check
