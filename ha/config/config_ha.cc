// Checks of global.ha, the VRRP pair and its sync link: the HA pair's part of
// the config loader, registered with it below (core/config/config_modules.h)
// and linked whole into lbd, lbctl and the tests.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

#include "core/config/config_check.h"
#include "core/config/config_modules.h"

namespace lbd::config_check {
namespace {

// ---- global.ha: the VRRP pair -------------------------------------------
//
// Everything here ends up in keepalived's config (ha/keepalived_config.cc) or
// drives the peer link, so it is checked as strictly as keepalived would, but
// at lbd's file:line instead of at the next keepalived restart.

// VRRP advert interval: VRRPv3 carries it in centiseconds in 12 bits
// (RFC 5798 section 5.2.7), so 10 ms steps up to 40.95 s; the schema stops at
// 25.5 s. Down to 20 ms: the rendered keepalived runs its VRRP process with
// real-time priority (keepalived_config.cc), so adverts go out on time on a
// saturated host; 40 ms notices a dead master in about 150 ms.
constexpr uint32_t kMinAdvertMs = 20;
// The default when the config says nothing: 40 ms meets the 0.20 s link-cut
// target (3 adverts + skew, about 150 ms to traffic on the other node) and
// made no false election in 10 minutes of saturated CPUs or in planned
// handovers under load (tests/ha scenarios c, s, k; README). 1000 before.
constexpr uint32_t kDefaultAdvertMs = 40;
constexpr uint32_t kMaxAdvertMs = 25500;
constexpr uint32_t kMinHeartbeatMs = 50;
constexpr uint32_t kMaxHeartbeatMs = 10000;
// Refreshing GARPs less than daily is pointless; the bound catches ms written for s.
constexpr uint32_t kMaxGarpRefreshS = 86400;

// A bare IP address in canonical text ("2001:db8::1", not "2001:DB8:0::1").
struct IpText {
    int family = AF_UNSPEC;
    std::string text;
};

std::optional<IpText> parse_ip(const std::string& text) {
    unsigned char bytes[sizeof(in6_addr)];
    char buf[INET6_ADDRSTRLEN];
    for (int family : {AF_INET, AF_INET6})
        if (inet_pton(family, text.c_str(), bytes) == 1 && inet_ntop(family, bytes, buf, sizeof buf) != nullptr)
            return IpText{family, buf};
    return std::nullopt;
}

const char* family_name(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

// Interface names go into keepalived.conf unquoted: allow what real names
// use and nothing keepalived would read as syntax. IFNAMSIZ includes the NUL.
void check_interface(const std::string& name, Loc at, Errors& errors) {
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
    if (name.empty())
        errors.add(at, "ha vrrp has no interface");
    else if (name.size() >= IFNAMSIZ)
        errors.add(at, "ha vrrp interface " + quote(name) + " is longer than " + std::to_string(IFNAMSIZ - 1) +
                           " characters (IFNAMSIZ)");
    else if (!plain || name == "." || name == "..")
        errors.add(at, "ha vrrp interface " + quote(name) + " may only contain letters, digits and . _ -");
}

// A file keepalived or lbd opens: absolute (both daemons have their own
// working directory), and free of what keepalived.conf would read as syntax.
void check_ha_path(const std::string& what, const std::string& path, Loc at, Errors& errors) {
    if (path.empty() || path.front() != '/')
        errors.add(at, what + " " + quote(path) + " must be an absolute path");
    else if (path.find_first_of(" \t\r\n\"'#!{}") != std::string::npos)
        errors.add(at, what + " " + quote(path) + " may not contain spaces, quotes or # ! { }");
}

// node_id, cluster_id: present and plain (they appear in logs and in hellos).
std::string check_ha_id(const char* field, const std::string& value, Loc at, Errors& errors) {
    if (value.empty())
        errors.add(at, std::string("ha has no ") + field);
    else if (!plain_name(value))
        errors.add(at, std::string("ha ") + field + " " + quote(value) +
                           " may only contain letters, digits and . _ - :");
    return value;
}

// virtual_router_id and priority: required, within [1, max].
uint32_t check_vrrp_number(const char* field, uint32_t value, uint32_t max, Loc at, bool written, Errors& errors) {
    if (value == 0 && !written)
        errors.add(at, std::string("ha vrrp has no ") + field);
    else if (value < 1 || value > max)
        errors.add(at, std::string("ha vrrp ") + field + " " + std::to_string(value) + " out of range 1.." +
                           std::to_string(max));
    return value;
}

// keepalived runs one address family per VRRP instance (adverts, peers and
// VIPs alike), so the VIPs' family is the instance's.
int check_virtual_ips(const pb::Vrrp& msg, const Node& node, VrrpConfig& out, Errors& errors) {
    int family = AF_UNSPEC;
    if (msg.virtual_ips_size() == 0) errors.add(node.self(), "ha vrrp has no virtual_ips");
    for (int i = 0; i < msg.virtual_ips_size(); ++i) {
        const std::string& text = msg.virtual_ips(i);
        const Loc at = node.at(pb::Vrrp::kVirtualIpsFieldNumber, i);
        // Without an explicit prefix keepalived would add a /32 or /128 and
        // the kernel would not route the VIP's subnet through the interface.
        const size_t slash = text.find('/');
        auto cidr = slash == std::string::npos ? std::nullopt : Cidr::parse(text);
        auto ip = slash == std::string::npos ? std::nullopt : parse_ip(text.substr(0, slash));
        if (!cidr || !ip) {
            errors.add(at, "ha vrrp virtual_ip " + quote(text) + ": expected address/prefix, e.g. 192.0.2.10/24");
            continue;
        }
        if (family == AF_UNSPEC) family = ip->family;
        if (ip->family != family)
            errors.add(at, "ha vrrp virtual_ip " + quote(text) + " is " + family_name(ip->family) +
                               " but the first virtual IP is " + family_name(family));
        out.virtual_ips.push_back(cidr->to_string());
    }
    return family;
}

// The unicast source and peers: valid IPs of the VIPs' family.
void check_unicast(const pb::Vrrp& msg, const Node& node, int family, VrrpConfig& out, Errors& errors) {
    using F = pb::Vrrp;
    auto check_ip = [&](const char* field, const std::string& text, Loc at) -> std::optional<std::string> {
        auto ip = parse_ip(text);
        if (!ip) {
            errors.add(at, std::string("ha vrrp ") + field + " " + quote(text) + " is not an IP address");
            return std::nullopt;
        }
        if (family != AF_UNSPEC && ip->family != family) {
            errors.add(at, std::string("ha vrrp ") + field + " " + quote(text) + " is " + family_name(ip->family) +
                               " but the virtual IPs are " + family_name(family));
            return std::nullopt;
        }
        return ip->text;
    };
    // Unicast only: it works where multicast does not (clouds, filtering
    // switches), and check_unicast_src needs the list of peers.
    if (msg.unicast_source().empty())
        errors.add(node.self(), "ha vrrp has no unicast_source");
    else if (auto ip = check_ip("unicast_source", msg.unicast_source(), node.at(F::kUnicastSourceFieldNumber)))
        out.unicast_source = *ip;
    if (msg.unicast_peers_size() == 0) errors.add(node.self(), "ha vrrp has no unicast_peers");
    for (int i = 0; i < msg.unicast_peers_size(); ++i) {
        const Loc at = node.at(F::kUnicastPeersFieldNumber, i);
        auto ip = check_ip("unicast_peer", msg.unicast_peers(i), at);
        if (!ip) continue;
        if (*ip == out.unicast_source)
            errors.add(at, "ha vrrp unicast_peer " + quote(msg.unicast_peers(i)) + " is this node's unicast_source");
        out.unicast_peers.push_back(*ip);
    }
}

VrrpConfig check_vrrp(const pb::Vrrp& msg, const Node& node, Errors& errors) {
    using F = pb::Vrrp;
    VrrpConfig out;
    out.interface = msg.interface();
    check_interface(out.interface, node.at(F::kInterfaceFieldNumber), errors);
    out.virtual_router_id = check_vrrp_number("virtual_router_id", msg.virtual_router_id(), 255,
                                              node.at(F::kVirtualRouterIdFieldNumber),
                                              node.written(F::kVirtualRouterIdFieldNumber), errors);
    // 255 is reserved for the address owner (RFC 5798 section 5.2.4), which
    // neither node is: the VIP moves between them.
    out.priority = check_vrrp_number("priority", msg.priority(), 254, node.at(F::kPriorityFieldNumber),
                                     node.written(F::kPriorityFieldNumber), errors);
    const int family = check_virtual_ips(msg, node, out, errors);
    check_unicast(msg, node, family, out, errors);

    out.advert_interval_ms = or_default(msg.advert_interval_ms(), kDefaultAdvertMs);
    if (out.advert_interval_ms < kMinAdvertMs || out.advert_interval_ms > kMaxAdvertMs ||
        out.advert_interval_ms % 10 != 0)
        errors.add(node.at(F::kAdvertIntervalMsFieldNumber),
                   "ha vrrp advert_interval_ms " + std::to_string(out.advert_interval_ms) + " must be " +
                       std::to_string(kMinAdvertMs) + ".." + std::to_string(kMaxAdvertMs) + " in steps of 10");

    auto path = [&](const char* field, const std::string& value, std::string& into, int number) {
        if (value.empty()) return;  // keep the default
        into = value;
        check_ha_path(std::string("ha vrrp ") + field, value, node.at(number), errors);
    };
    path("notify_fifo", msg.notify_fifo(), out.notify_fifo, F::kNotifyFifoFieldNumber);
    path("track_file", msg.track_file(), out.track_file, F::kTrackFileFieldNumber);

    // The schema gives 0 a meaning here (off), so "absent" is told apart.
    if (node.written(F::kGarpRefreshSFieldNumber)) out.garp_refresh_s = msg.garp_refresh_s();
    if (out.garp_refresh_s > kMaxGarpRefreshS)
        errors.add(node.at(F::kGarpRefreshSFieldNumber),
                   "ha vrrp garp_refresh_s " + std::to_string(out.garp_refresh_s) + " out of range 0.." +
                       std::to_string(kMaxGarpRefreshS));
    switch (msg.track_process()) {
        case pb::TRACK_PROCESS_AUTO: out.track_process = VrrpConfig::TrackProcess::kAuto; break;
        case pb::TRACK_PROCESS_ON: out.track_process = VrrpConfig::TrackProcess::kOn; break;
        case pb::TRACK_PROCESS_OFF: out.track_process = VrrpConfig::TrackProcess::kOff; break;
        default:
            errors.add(node.at(F::kTrackProcessFieldNumber),
                       "unknown ha vrrp track_process " + std::to_string(msg.track_process()));
    }
    return out;
}

bool is_wildcard(const SocketAddress& address) {
    if (address.is_v4())
        return reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr())->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr())->sin6_addr);
}

// listen and peer: required, and a real port (the peer must know where to dial).
SocketAddress check_sync_address(const char* field, const std::string& text, const Node& node, int number,
                                 Errors& errors) {
    const Loc at = node.at(number);
    if (text.empty()) {
        errors.add(at, std::string("ha sync has no ") + field + " address");
        return {};
    }
    auto address = parse_address(text, at, errors);
    if (!address) return {};
    if (address->port() == 0) errors.add(at, std::string("ha sync ") + field + ": port 0 is not allowed");
    if (is_wildcard(*address))
        errors.add(at, std::string("ha sync ") + field + " " + quote(text) +
                           " is a wildcard: name this node's (or the peer's) own address, which the "
                           "other side checks");
    return *address;
}

PeerSyncConfig check_sync(const pb::PeerSync& msg, const Node& node, Errors& errors) {
    using F = pb::PeerSync;
    PeerSyncConfig out;
    out.listen = check_sync_address("listen", msg.listen(), node, F::kListenFieldNumber, errors);
    out.peer = check_sync_address("peer", msg.peer(), node, F::kPeerFieldNumber, errors);
    if (out.listen.port() != 0 && out.listen == out.peer)
        errors.add(node.at(F::kPeerFieldNumber), "ha sync peer is this node's own listen address");
    out.key_file = msg.key_file();
    if (out.key_file.empty())
        errors.add(node.at(F::kKeyFileFieldNumber), "ha sync has no key_file");
    else
        check_ha_path("ha sync key_file", out.key_file, node.at(F::kKeyFileFieldNumber), errors);
    out.heartbeat_ms = or_default(msg.heartbeat_ms(), out.heartbeat_ms);
    if (out.heartbeat_ms < kMinHeartbeatMs || out.heartbeat_ms > kMaxHeartbeatMs)
        errors.add(node.at(F::kHeartbeatMsFieldNumber),
                   "ha sync heartbeat_ms " + std::to_string(out.heartbeat_ms) + " out of range " +
                       std::to_string(kMinHeartbeatMs) + ".." + std::to_string(kMaxHeartbeatMs));
    return out;
}

HaConfig check_ha(const pb::HighAvailability& msg, const Node& node, Errors& errors) {
    using F = pb::HighAvailability;
    HaConfig out;
    out.enabled = true;
    out.node_id = check_ha_id("node_id", msg.node_id(), node.at(F::kNodeIdFieldNumber), errors);
    out.cluster_id = check_ha_id("cluster_id", msg.cluster_id(), node.at(F::kClusterIdFieldNumber), errors);
    out.vrrp = check_vrrp(msg.vrrp(), node.child(F::kVrrpFieldNumber), errors);
    out.sync = check_sync(msg.sync(), node.child(F::kSyncFieldNumber), errors);
    return out;
}

void check_global_sections(const pb::Global& msg, const Node& node, GlobalConfig& out, Errors& errors) {
    if (msg.has_ha()) out.ha = check_ha(msg.ha(), node.child(pb::Global::kHaFieldNumber), errors);
}

const bool registered = register_config_module({
    .name = "ha",
    .owns = {"Global.ha"},
    .global = &check_global_sections,
    .pool = {},
    .listener = {},
    .whole = {},
});

}  // namespace
}  // namespace lbd::config_check
