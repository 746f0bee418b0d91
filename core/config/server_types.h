// Plain types for servers: cheap to include anywhere (HAProxy's *-t.h habit).
#pragma once

#include <cstdint>

namespace lbd {

// What the health checks (active and passive) concluded.
enum class HealthState : uint8_t { kUp, kDown };

// What the operator asked for.
enum class AdminState : uint8_t { kReady, kDrain, kMaint };

// What balancing sees: the operator's state wins over health.
//   kMaint  - out of service, not checked
//   kDrain  - no new connections, established ones finish
//   kDown   - in service but failing checks
//   kUp     - takes new connections
enum class ServerState : uint8_t { kUp, kDown, kDrain, kMaint };

const char* to_string(HealthState state);
const char* to_string(AdminState state);
const char* to_string(ServerState state);

}  // namespace lbd
