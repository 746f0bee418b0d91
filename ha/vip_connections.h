// TCP connections on this host whose local address is one of the virtual
// IPs and that still need the address: the planned handover (ha_node.h)
// gives the VIP away only once none is left, or at its deadline.
//
// Asked of the kernel (sock_diag, the netlink interface `ss` uses) rather
// than counted by the tiers, because what matters is the kernel's view: a
// connection lbd has closed still needs the address while its last
// response and FIN sit unacknowledged in the send queue (FIN-WAIT-1), and a
// connection the kernel has accepted is there before lbd knows of it.
// Counted: SYN-RECV, ESTABLISHED, FIN-WAIT-1, CLOSE-WAIT, LAST-ACK, CLOSING.
// Not: FIN-WAIT-2 and TIME-WAIT (everything this node sent was acknowledged).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lbd::ha {

struct VipConnections {
    uint64_t open = 0;        // as above
    uint64_t unsent_fin = 0;  // of which closed by lbd, data or FIN not yet acknowledged (FIN-WAIT-1, LAST-ACK, CLOSING)
};

// The raw bytes (4 or 16) of each address of "ADDRESS/PREFIX" strings; the
// config loader checked them.
std::vector<std::string> vip_address_bytes(const std::vector<std::string>& virtual_ips);

// Counts the connections on `addresses` (raw IP bytes) in this network
// namespace. Nullopt with `error` if the kernel cannot be asked.
std::optional<VipConnections> count_vip_connections(const std::vector<std::string>& addresses, std::string* error);

}  // namespace lbd::ha
