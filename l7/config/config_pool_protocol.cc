// Checks a pool's `protocol` (lbd.v1.ServerProtocol): HTTP/2 to the servers
// (l7/h2_upstream.h), in clear text (h2c) or over the pool's tls (h2).
#include "l7/config/l7_config_checks.h"

namespace lbd::config_check {

namespace {

// SERVER_PROTOCOL_H2: lbd offers ALPN "h2" and nothing else, as it speaks
// nothing else on those connections (no fallback to HTTP/1.1). An HTTP/1.1
// pool may not offer "h2": a server that picks it would get HTTP/1.1 bytes.
void check_h2_alpn(const pb::Pool& msg, const Node& node, const std::string& what, bool h2, PoolConfig& out,
                   Errors& errors) {
    const Node tls = node.child(pb::Pool::kTlsFieldNumber);
    for (int i = 0; i < msg.tls().alpn_size(); ++i) {
        const std::string& protocol = msg.tls().alpn(i);
        if (h2 && protocol != "h2")
            errors.add(tls.at(pb::ServerTls::kAlpnFieldNumber, i),
                       what + ": protocol SERVER_PROTOCOL_H2 offers ALPN \"h2\" only (remove alpn " + quote(protocol) +
                           ")");
        if (!h2 && protocol == "h2")
            errors.add(tls.at(pb::ServerTls::kAlpnFieldNumber, i),
                       what + ": alpn \"h2\" on a pool that speaks HTTP/1.1 to its servers (set protocol: "
                              "SERVER_PROTOCOL_H2 for HTTP/2 over TLS)");
    }
    if (h2) out.tls.context.alpn = {"h2"};
}

}  // namespace

void check_pool_protocol(const pb::Pool& msg, const Node& node, const std::string& what, PoolConfig& out,
                         Errors& errors) {
    using F = pb::Pool;
    switch (msg.protocol()) {
        case pb::SERVER_PROTOCOL_HTTP1:
            if (msg.has_tls()) check_h2_alpn(msg, node, what, false, out, errors);
            return;
        case pb::SERVER_PROTOCOL_H2C:
            if (msg.has_tls())
                errors.add(node.at(F::kProtocolFieldNumber),
                           what + ": protocol SERVER_PROTOCOL_H2C is HTTP/2 in clear text; with tls use "
                                  "SERVER_PROTOCOL_H2 (HTTP/2 over TLS)");
            break;
        case pb::SERVER_PROTOCOL_H2:
            if (!msg.has_tls())
                errors.add(node.at(F::kProtocolFieldNumber),
                           what + ": protocol SERVER_PROTOCOL_H2 is HTTP/2 over TLS and needs a tls block (for "
                                  "HTTP/2 in clear text use SERVER_PROTOCOL_H2C)");
            else
                check_h2_alpn(msg, node, what, true, out, errors);
            break;
        default:
            errors.add(node.at(F::kProtocolFieldNumber), what + ": unknown protocol " + std::to_string(msg.protocol()));
            return;
    }
    out.http2 = true;
}

void check_http2_pools_unused_by_tcp(const Config& config, const Node& root, Errors& errors) {
    for (size_t i = 0; i < config.listeners.size(); ++i) {
        const ListenerConfig& listener = config.listeners[i];
        if (listener.mode != ListenerMode::kTcp) continue;
        const PoolConfig* pool = config.find_pool(listener.pool);
        if (pool == nullptr || !pool->http2) continue;
        const int index = static_cast<int>(i);
        errors.add(root.child(pb::Config::kListenersFieldNumber, index).at(pb::Listener::kPoolFieldNumber),
                   label("listener", listener.name, index) + " is MODE_TCP but pool " + quote(pool->name) +
                       " speaks HTTP/2 to its servers (protocol): a TCP listener passes bytes through unchanged "
                       "(use MODE_HTTP)");
    }
}

}  // namespace lbd::config_check
