// Loading a certificate, a key or a CA file needs OpenSSL and the L7 tier's context builders
// (l7/tls_context.h), which core does not link. The L7 tier registers them here once at start-up
// (l7::register_tls_config_checks()), and the config loader runs them on every listener and pool
// `tls` block, so that `lbd -t`, start and reload all refuse a certificate that does not load,
// at the line of the config that names it. Without registered checks the loader still checks
// that each file is readable.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/tls_settings.h"

namespace lbd {

// Why settings do not make a context: the file (or setting) at fault, and what is wrong with it.
struct TlsLoadError {
    std::string file;
    std::string message;
};

using TlsServerCheck = std::function<std::optional<TlsLoadError>(const TlsServerSettings&)>;
using TlsClientCheck = std::function<std::optional<TlsLoadError>(const TlsClientSettings&)>;

// Call before the first load, from one thread; later loads on any thread only read them.
void set_tls_load_checks(TlsServerCheck server, TlsClientCheck client);

}  // namespace lbd
