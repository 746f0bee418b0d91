// Running as an unprivileged user once the sockets are bound.
//
// lbd started as root binds its listeners, its admin socket and the HA
// FIFO, then becomes `global.user` (and `global.group`) keeping one
// capability, CAP_NET_BIND_SERVICE: a reload may add a listener on a port
// below 1024. Nothing else lbd does after start-up needs a privilege:
//   * the VIP watch (ha/vip_watch.cc) reads addresses over NETLINK_ROUTE and
//     joins the IFADDR multicast groups, which rtnetlink allows any user;
//   * `freebind: true` is IP_FREEBIND, unprivileged (IP_TRANSPARENT, which
//     would need CAP_NET_ADMIN, is not used); no raw sockets (CAP_NET_RAW);
//   * keepalived, which adds the VIP and sends VRRP, is its own process;
//   * the track file and the admin socket live in /run/lbd, owned by lbd.
// So CAP_NET_ADMIN and CAP_NET_RAW are not kept.
//
// Thread precondition: call before any other thread starts. Capabilities
// are per thread (capset(2)); threads started afterwards inherit the reduced
// set, threads started before would keep root's.
#pragma once

#include <string>

namespace lbd::process {

struct RunAs {
    std::string user;   // empty: stay as started (root in the existing tests)
    std::string group;  // empty: the user's primary group
};

// Becomes run_as.user (supplementary groups: none but run_as.group) with only
// CAP_NET_BIND_SERVICE, permitted and effective; the bounding and ambient
// sets are emptied so no exec'd program regains more. Started as that user
// already (systemd's User=), it only trims the capabilities. False with a
// reason in *error (unknown user, started as another non-root user, ...).
bool drop_privileges(const RunAs& run_as, std::string* error);

}  // namespace lbd::process
