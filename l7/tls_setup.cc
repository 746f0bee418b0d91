#include "l7/tls_setup.h"

namespace lbd::l7 {

std::shared_ptr<TlsContexts> TlsContexts::build(const Config& config, std::string* error) {
    auto out = std::make_shared<TlsContexts>();
    for (const ListenerConfig& lc : config.listeners) {
        if (lc.mode != ListenerMode::kHttp || !lc.tls.enabled) continue;
        TlsBuildResult<TlsServerContext> built = TlsServerContext::build(lc.tls.context);
        if (built.error) {
            *error = "listener '" + lc.name + "' tls: " + built.error->to_string();
            return nullptr;
        }
        out->listeners_.emplace(lc.name, std::move(built.context));
    }
    for (const PoolConfig& pc : config.pools) {
        if (!pc.tls.enabled) continue;
        TlsBuildResult<TlsClientContext> built = TlsClientContext::build(pc.tls.context);
        if (built.error) {
            *error = "pool '" + pc.name + "' tls: " + built.error->to_string();
            return nullptr;
        }
        out->pools_.emplace(pc.name, std::move(built.context));
    }
    return out;
}

TlsServerContext* TlsContexts::listener(const std::string& name) const {
    auto it = listeners_.find(name);
    return it == listeners_.end() ? nullptr : it->second.get();
}

const std::shared_ptr<const TlsClientContext>& TlsContexts::pool(const std::string& name) const {
    static const std::shared_ptr<const TlsClientContext> kNone;
    // Asked on every request (connect_server): a config without re-encryption
    // pays no string compares.
    if (pools_.empty()) return kNone;
    auto it = pools_.find(name);
    return it == pools_.end() ? kNone : it->second;
}

}  // namespace lbd::l7
