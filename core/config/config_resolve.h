// Server addresses given by name ("app.internal:8080") and the resolvers
// that answer for them (global.resolvers): checked with the rest of the file,
// then resolved once the file is otherwise sound, every name at once through
// evdns (core/net/dns.h), so `lbd -t`, `lbctl config check`, a start and a
// reload give the same verdict. A name that does not resolve is an error at
// its file:line:col unless the server says `resolve { optional: true }`; then
// it starts unresolved (in MAINT) and the daemon's re-resolution
// (core/daemon/server_names.h) brings it into service.
#pragma once

#include "core/config/config.h"
#include "core/config/config_check.h"

namespace lbd::config_check {

DnsSettings check_resolvers(const pb::Resolvers& msg, const Node& node, Errors& errors);

// True when the server's address is "name:port" (then `out` has host and
// resolve settings and any error about them is in `errors`); false for
// anything else, which the caller parses as "ip:port".
bool check_server_name(const pb::Server& msg, const Node& node, ServerConfig& out, Errors& errors);

// Resolves every server name of `config` (see above).
void resolve_server_names(Config& config, const Node& root, Errors& errors);

}  // namespace lbd::config_check
