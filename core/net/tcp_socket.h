// Listening TCP sockets, the one way lbd makes them: for listeners (l4),
// and for checking that an address is free (config check, reload).
#pragma once

#include "core/net/address.h"
#include "core/base/unique_fd.h"

namespace lbd {

// A non-blocking socket bound to `address` with lbd's listener options.
// `reuseport` lets each worker bind its own socket to the same address; a
// probe leaves it out, so that a port held by another lbd shows as taken.
// On failure returns an empty fd and sets *err to the errno value.
UniqueFd bind_tcp_socket(const SocketAddress& address, bool reuseport, bool freebind, int* err);

}  // namespace lbd
