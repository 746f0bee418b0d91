#include "core/net/tcp_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace lbd {

static bool set_flag(int fd, int level, int option) {
    int one = 1;
    return setsockopt(fd, level, option, &one, sizeof one) == 0;
}

UniqueFd bind_tcp_socket(const SocketAddress& address, bool reuseport, bool freebind, int* err) {
    const bool v6 = address.is_v6();
    UniqueFd fd(socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    bool ok = fd && set_flag(fd.get(), SOL_SOCKET, SO_REUSEADDR) &&
              (!reuseport || set_flag(fd.get(), SOL_SOCKET, SO_REUSEPORT)) &&
              // "[::]:80" must not also take IPv4's port 80: an operator who
              // wants both writes two listeners (nginx's ipv6only=on).
              (!v6 || set_flag(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY)) &&
              // Lets a listener on a VRRP virtual IP bind before the VIP arrives.
              (!freebind || set_flag(fd.get(), v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND)) &&
              // Accepted sockets inherit TCP_NODELAY: lbd forwards exactly what
              // it receives, so Nagle would only add latency.
              set_flag(fd.get(), IPPROTO_TCP, TCP_NODELAY) &&
              bind(fd.get(), address.sockaddr_ptr(), address.length()) == 0;
    if (ok) return fd;
    *err = errno;
    return {};
}

}  // namespace lbd
