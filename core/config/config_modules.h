// Config sections owned by parts of lbd outside the config library: the L7
// tier's `http` and `tls` blocks and cookie stickiness (l7/config/), the HA
// pair's `global.ha` (ha/config/), the balancer names (core/balance/). Each
// part registers its checks here under its name, as balancers and admin
// commands register themselves (HAProxy's per-module keywords), and the
// loader runs them at fixed points. The loader itself knows only what every
// tier shares: listeners, pools, servers, health checks, the admin plane.
//
// A module registers from a static initializer of its config library, which
// is linked whole (WHOLE_ARCHIVE), so whatever links it — lbd, lbctl, a test —
// gives the same verdict on every file. A field whose owner is not linked is
// an error, never silently accepted (see kOwnedFields in config_modules.cc).
//
// Registration happens before main(); loads read the list from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/config_check.h"

namespace lbd::config_check {

struct ConfigModule {
    // The module's name: "http" (with tls and cookies), "ha", "balance".
    std::string name;
    // The fields it owns, as "message.field" (e.g. "Listener.http"): a file
    // that writes one of them is refused when no linked module owns it.
    std::vector<std::string> owns;
    // Hooks, each optional, run in this order for each module (modules in
    // registration order, which does not matter: they write disjoint parts).
    // `what` names the listener or pool in messages ("listener 'web'").
    std::function<void(const pb::Global&, const Node&, GlobalConfig&, Errors&)> global;
    std::function<void(const pb::Pool&, const Node&, const std::string& what, PoolConfig&, Errors&)> pool;
    std::function<void(const pb::Listener&, const Node&, const std::string& what, const NameSet& pools,
                       ListenerConfig&, Errors&)>
        listener;
    // After every section is converted: checks across sections.
    std::function<void(const pb::Config&, const Node& root, const Config&, Errors&)> whole;
};

// Returns true, so that `static const bool registered = register_config_module(...)` reads as what it does.
bool register_config_module(ConfigModule module);
const std::vector<ConfigModule>& config_modules();

// Errors for tier-owned fields written in `msg` that no linked module owns.
void check_owned_fields_have_modules(const pb::Config& msg, const Node& root, Errors& errors);

}  // namespace lbd::config_check
