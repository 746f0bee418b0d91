// Reads a config file (protobuf text format, schema lbd.v1.Config), checks
// it, and produces a typed Config.
//
// Every error names where it is: syntax errors with the parser's line and
// column, semantic errors with the line of the offending field, found
// through the parser's ParseInfoTree.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"

namespace lbd {

struct ConfigError {
    std::string file;
    int line = 0;    // 1-based; 0 = not tied to a line
    int column = 0;  // 1-based; 0 = unknown
    std::string message;

    // "file:line:col: message", the form editors and compilers use.
    std::string to_string() const;
};

struct ConfigLoadResult {
    std::optional<Config> config;  // set only when errors is empty
    std::vector<ConfigError> errors;
};

ConfigLoadResult load_config_file(const std::string& path);
ConfigLoadResult load_config_text(std::string_view text, const std::string& display_name);

// Whether a running lbd already serves `listener` (same name, address and
// mode), so that a reload would keep its socket.
using RunningListenerFn = std::function<bool(const ListenerConfig& listener)>;

// Checks that each listener's address can be bound now (e.g. the port is
// not taken by another process), each error at the line of its `bind`. Used
// by `lbd -t`; a running lbd checks its new listeners the same way on
// reload. An address in use by the running lbd's own listener of the same
// name, address and mode (`running`) is no conflict: the edit, check,
// reload habit of nginx and HAProxy works.
std::vector<ConfigError> check_listeners_bindable(const Config& config, const RunningListenerFn& running = {});

// Binds a throw-away socket the way l4/tcp_listener.cc does, minus
// SO_REUSEPORT: with it, a port held by another process of the same user
// (another lbd) would look free and the kernel would silently share its
// connections between both. Returns 0 or an errno value.
int probe_exclusive_bind(const SocketAddress& address, bool freebind);

}  // namespace lbd
