// Checks a pool's `protocol` (lbd.v1.ServerProtocol): HTTP/2 to the servers
// (l7/h2_upstream.h).
#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {

void check_pool_protocol(const pb::Pool& msg, const Node& node, const std::string& what, PoolConfig& out,
                         Errors& errors) {
    using F = pb::Pool;
    switch (msg.protocol()) {
        case pb::SERVER_PROTOCOL_HTTP1: return;
        case pb::SERVER_PROTOCOL_H2C: break;
        default:
            errors.add(node.at(F::kProtocolFieldNumber), what + ": unknown protocol " + std::to_string(msg.protocol()));
            return;
    }
    out.h2c = true;
    if (msg.has_tls())
        errors.add(node.at(F::kProtocolFieldNumber),
                   what + ": protocol SERVER_PROTOCOL_H2C is HTTP/2 in clear text; HTTP/2 over tls to servers is "
                          "not supported (remove tls, or the protocol)");
}

void check_h2c_pools_unused_by_tcp(const Config& config, const Node& root, Errors& errors) {
    for (size_t i = 0; i < config.listeners.size(); ++i) {
        const ListenerConfig& listener = config.listeners[i];
        if (listener.mode != ListenerMode::kTcp) continue;
        const PoolConfig* pool = config.find_pool(listener.pool);
        if (pool == nullptr || !pool->h2c) continue;
        const int index = static_cast<int>(i);
        errors.add(root.child(pb::Config::kListenersFieldNumber, index).at(pb::Listener::kPoolFieldNumber),
                   label("listener", listener.name, index) + " is MODE_TCP but pool " + quote(pool->name) +
                       " speaks HTTP/2 to its servers (protocol): a TCP listener passes bytes through unchanged "
                       "(use MODE_HTTP)");
    }
}

}  // namespace lbd::config_check
