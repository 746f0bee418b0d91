#include "ha/vip_connections.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/base/unique_fd.h"

namespace lbd::ha {

namespace {

constexpr uint32_t bit(int state) { return 1u << state; }
// The kernel's TCP states (include/net/tcp_states.h); TCP_NEW_SYN_RECV (12)
// is how a handshake under way is reported.
constexpr int kNewSynRecv = 12;
constexpr uint32_t kUnsentFin = bit(TCP_FIN_WAIT1) | bit(TCP_LAST_ACK) | bit(TCP_CLOSING);
constexpr uint32_t kOpenStates =
    bit(TCP_SYN_RECV) | bit(kNewSynRecv) | bit(TCP_ESTABLISHED) | bit(TCP_CLOSE_WAIT) | kUnsentFin;

// The local address of a socket as raw bytes; an IPv4-mapped IPv6 address
// (a dual-stack socket) as its IPv4 bytes.
std::string local_bytes(const inet_diag_msg& msg) {
    const auto* src = reinterpret_cast<const unsigned char*>(msg.id.idiag_src);
    if (msg.idiag_family == AF_INET) return std::string(reinterpret_cast<const char*>(src), 4);
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(src, kMapped, 12) == 0) return std::string(reinterpret_cast<const char*>(src + 12), 4);
    return std::string(reinterpret_cast<const char*>(src), 16);
}

bool dump_family(int fd, uint8_t family, const std::vector<std::string>& addresses, VipConnections& out,
                 std::string* error) {
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request.sdiag_family = family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = kOpenStates;
    if (send(fd, &message, sizeof message, 0) != ssize_t(sizeof message)) {
        *error = std::string("sock_diag request: ") + strerror(errno);
        return false;
    }
    alignas(nlmsghdr) char buffer[32768];
    for (;;) {
        ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            *error = std::string("sock_diag answer: ") + (n < 0 ? strerror(errno) : "end of stream");
            return false;
        }
        // Unsigned: NLMSG_OK compares it with the header's __u32 length (clang's -Wsign-compare).
        auto length = static_cast<unsigned int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length); h = NLMSG_NEXT(h, length)) {
            if (h->nlmsg_type == NLMSG_DONE) return true;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                *error = std::string("sock_diag: ") + strerror(-e->error);
                return false;
            }
            const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
            if (std::find(addresses.begin(), addresses.end(), local_bytes(*msg)) == addresses.end()) continue;
            ++out.open;
            if (kUnsentFin & bit(msg->idiag_state)) ++out.unsent_fin;
        }
    }
}

}  // namespace

std::vector<std::string> vip_address_bytes(const std::vector<std::string>& virtual_ips) {
    std::vector<std::string> out;
    for (const std::string& vip : virtual_ips) {
        std::string address = vip.substr(0, vip.find('/'));
        unsigned char buf[16];
        if (inet_pton(AF_INET, address.c_str(), buf) == 1)
            out.emplace_back(reinterpret_cast<const char*>(buf), 4);
        else if (inet_pton(AF_INET6, address.c_str(), buf) == 1)
            out.emplace_back(reinterpret_cast<const char*>(buf), 16);
    }
    return out;
}

std::optional<VipConnections> count_vip_connections(const std::vector<std::string>& addresses, std::string* error) {
    UniqueFd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) {
        *error = std::string("sock_diag socket: ") + strerror(errno);
        return std::nullopt;
    }
    VipConnections out;
    for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)})
        if (!dump_family(fd.get(), family, addresses, out, error)) return std::nullopt;
    return out;
}

}  // namespace lbd::ha
