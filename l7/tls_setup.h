// The TLS contexts of one loaded configuration: a server context per TLS
// listener, a client context per pool with tls. Built on the control thread
// when a configuration is started or reloaded (so a reload also re-reads
// renewed certificates), then shared read-only by every worker's listeners
// and sessions; a connection keeps the set it started with alive.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/config/config.h"
#include "l7/tls/tls_context.h"

namespace lbd::l7 {

class TlsContexts {
public:
    // Builds every context `config` asks for; false with `error` naming the
    // listener or pool and the file at fault. The config loader has loaded
    // the same files once already (l7/config/config_tls.cc), so this
    // fails only if a file changed in between.
    static std::shared_ptr<TlsContexts> build(const Config& config, std::string* error);

    // Null: the listener is plain HTTP / the pool's servers are plain HTTP.
    // Not const: ticket key rotation changes the server context.
    TlsServerContext* listener(const std::string& name) const;
    const std::shared_ptr<const TlsClientContext>& pool(const std::string& name) const;

private:
    std::map<std::string, std::shared_ptr<TlsServerContext>> listeners_;
    std::map<std::string, std::shared_ptr<const TlsClientContext>> pools_;
};


}  // namespace lbd::l7
