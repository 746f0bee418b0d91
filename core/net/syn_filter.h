// A socket filter for a listening TCP socket that drops new connections
// (SYNs) to some local addresses and lets everything else through: the
// planned HA handover (ha/ha_node.h) stops taking connections to the
// virtual IPs without refusing them. A dropped SYN is not answered, so the
// client sends it again (after 1 s, then 3 s) and reaches whichever node
// holds the address by then; a refusal (RST) would end its connect.
// Handshakes already under way complete (their ACKs pass), and connections
// in the accept queue are still accepted.
//
// Classic BPF (SO_ATTACH_FILTER), which needs no privilege. The kernel runs
// a TCP socket's filter with the packet at its TCP header; the IP header is
// read at SKF_NET_OFF, so one program serves IPv4, IPv6 and dual-stack
// sockets.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

namespace lbd {

// The program dropping SYNs (without ACK) whose destination is one of
// `addresses` (raw IP bytes: 4 for IPv4, 16 for IPv6; others are skipped).
std::vector<sock_filter> syn_drop_program(const std::vector<std::string>& addresses);

// Attaches syn_drop_program(addresses) to `fd`, or detaches any filter when
// `addresses` is empty. False with `error` (errno's text) if the kernel
// refuses.
bool set_syn_drop_filter(int fd, const std::vector<std::string>& addresses, std::string* error);

}  // namespace lbd
