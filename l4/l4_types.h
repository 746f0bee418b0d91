// Plain types of the L4 tier: why a connection ended, per-listener counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "core/base/histogram.h"

namespace lbd::l4 {

// How an L4 connection ended; the `end=` field of its log line.
enum class EndReason : uint8_t {
    kClosed,               // both directions finished (FIN both ways)
    kClientReset,          // the client reset or broke the connection
    kServerReset,          // the server reset or broke the connection
    kIdleTimeout,          // no byte moved for idle_timeout_ms
    kConnectFailed,        // every connect attempt (with retries) failed
    kNoServer,             // no server of the pool was UP
    kQueueFull,            // every UP server was full and the queue too
    kQueueTimeout,         // waited in the queue for queue_timeout_ms
    kProxyHeaderInvalid,   // malformed or missing PROXY header
    kProxyHeaderTimeout,   // PROXY header not complete in time
    kUntrustedSource,      // PROXY header expected from a source not trusted
    kDrainTimeout,         // still open when the shutdown deadline passed
    kInternalError,        // out of fds, pipes, memory
    kCount
};

const char* to_string(EndReason reason);

// Counters of one listener, shared by its sockets on every worker.
struct ListenerStats {
    std::atomic<uint64_t> accepted{0};
    // Open connections; also the gate for max_connections.
    std::atomic<uint32_t> active{0};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(EndReason::kCount)> ended{};
    // How long connections stayed open, from accept to close.
    LatencyHistogram duration;
};

}  // namespace lbd::l4
