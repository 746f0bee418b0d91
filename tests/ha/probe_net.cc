// lbd_ha_probe's network side: addresses, one exchange with a backend
// through lbd (the clients' unit), and the backend (`serve`).
#include <arpa/inet.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "probe.h"

namespace probe {

std::optional<sockaddr_in> parse_ipv4(const std::string& ip, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) return std::nullopt;
    return sa;
}

// "10.77.0.10:81" -> sockaddr. IPv4 only: the lab and the namespaces are IPv4.
std::optional<sockaddr_in> parse_endpoint(const std::string& text) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    char* end = nullptr;
    unsigned long port = std::strtoul(text.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535) return std::nullopt;
    return parse_ipv4(text.substr(0, colon), static_cast<uint16_t>(port));
}

std::string ip_of(const sockaddr_in& sa) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
    return buf;
}

// ---------------------------------------------------------------- serve

int serve(const std::string& name, uint16_t port, const std::string& bind_ip) {
    auto addr = parse_ipv4(bind_ip, port);
    if (!addr) {
        std::fprintf(stderr, "serve: bad --bind address '%s'\n", bind_ip.c_str());
        return 2;
    }
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0 ||
        ::listen(listener.get(), 4096) != 0) {
        std::fprintf(stderr, "serve %s: cannot listen on %s:%u: %s\n", name.c_str(), bind_ip.c_str(), port,
                     std::strerror(errno));
        return 1;
    }
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener.get();
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, listener.get(), &ev);
    std::fprintf(stderr, "serve %s: listening on %s:%u\n", name.c_str(), bind_ip.c_str(), port);

    // The answer is a few dozen bytes: it always fits in an empty socket
    // send buffer, so one write per connection and no per-connection state.
    for (;;) {
        epoll_event events[16];
        int n = ::epoll_wait(ep.get(), events, 16, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; ++i) {
            for (;;) {
                sockaddr_in peer{};
                socklen_t len = sizeof peer;
                Fd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
                if (!conn) break;  // EAGAIN: accepted everything waiting
                std::string answer = name + " " + ip_of(peer) + "\n";
                if (::send(conn.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) continue;
                ::shutdown(conn.get(), SHUT_WR);
            }
        }
    }
}

namespace {

// ---------------------------------------------------------------- one exchange

const char* error_name(int err) {
    switch (err) {
        case ECONNREFUSED: return "refused";
        case ECONNRESET: return "reset";
        case EHOSTUNREACH:
        case ENETUNREACH: return "unreachable";
        case ETIMEDOUT: return "timeout";
        case EADDRNOTAVAIL: return "addrnotavail";
        default: return "error";
    }
}

// Waits for `events` on fd until the deadline; 0 when it passed.
short wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return 0;
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, static_cast<int>(left));
        if (rc > 0) return p.revents;
        if (rc < 0 && errno != EINTR) return POLLERR;
    }
}

}  // namespace

Answer exchange(const sockaddr_in& target, const std::optional<sockaddr_in>& source, int timeout_ms) {
    Answer a;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        a.error = "socket";
        return a;
    }
    if (source) {
        // Many connections from one source to one target: let the kernel
        // reuse TIME_WAIT ports (the client closes last, so it holds them).
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*source), sizeof *source) != 0) {
            a.error = "bind";
            return a;
        }
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
        if (errno != EINPROGRESS) {
            a.error = error_name(errno);
            return a;
        }
        if (wait_fd(fd.get(), POLLOUT, deadline) == 0) {
            a.error = "timeout";
            return a;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            a.error = error_name(err);
            return a;
        }
    }
    std::string data;
    for (;;) {
        char buf[256];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            data.append(buf, static_cast<size_t>(n));
            if (data.size() > 4096) break;
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            a.error = error_name(errno);
            return a;
        }
        if (wait_fd(fd.get(), POLLIN, deadline) == 0) {
            a.error = "timeout";
            return a;
        }
    }
    std::istringstream line(data);
    line >> a.server >> a.via;
    if (a.server.empty()) {
        a.error = "empty";  // lbd accepted and closed: no server for it
        return a;
    }
    a.ok = true;
    return a;
}

}  // namespace probe
