// The two kernel-facing pieces of the planned handover, on loopback sockets:
// the listening socket's filter that drops new connections to the virtual
// IPs (core/net/syn_filter.h) while letting the rest through, and the count
// of connections that still need the virtual IPs (ha/vip_connections.h).
// 127.0.0.2 and 127.0.0.3 stand for virtual IPs: every 127/8 address is local.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/base/unique_fd.h"
#include "core/net/syn_filter.h"
#include "ha/vip_connections.h"

namespace lbd {
namespace {

std::string ip_bytes(const char* ip) {
    in_addr a{};
    inet_pton(AF_INET, ip, &a);
    return std::string(reinterpret_cast<const char*>(&a), 4);
}

sockaddr_in address(const char* ip, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

// A listener on 0.0.0.0 (every loopback address reaches it); its port.
UniqueFd listen_any(uint16_t* port) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = address("0.0.0.0", 0);
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(listen(fd.get(), 16) == 0);
    socklen_t len = sizeof sa;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

// Starts a non-blocking connect and says whether it completed within `ms`.
bool connects_within(const char* ip, uint16_t port, int ms, UniqueFd* out = nullptr) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in sa = address(ip, port);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) return false;
    pollfd p{fd.get(), POLLOUT, 0};
    if (poll(&p, 1, ms) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return false;
    if (out != nullptr) *out = std::move(fd);
    return true;
}

uint64_t open_on(const char* ip) {
    std::string error;
    auto counted = ha::count_vip_connections({ip_bytes(ip)}, &error);
    REQUIRE_MESSAGE(counted.has_value(), error);
    return counted->open;
}

TEST_CASE("the handover's filter drops new connections to the virtual IPs only, and goes again") {
    uint16_t port = 0;
    UniqueFd listener = listen_any(&port);
    std::string error;
    REQUIRE_MESSAGE(set_syn_drop_filter(listener.get(), {ip_bytes("127.0.0.2")}, &error), error);
    // The SYN gets no answer: still connecting after 300 ms (no refusal either).
    CHECK_FALSE(connects_within("127.0.0.2", port, 300));
    // Another local address of the same listener is served as before.
    CHECK(connects_within("127.0.0.1", port, 2000));
    REQUIRE_MESSAGE(set_syn_drop_filter(listener.get(), {}, &error), error);
    CHECK(connects_within("127.0.0.2", port, 2000));
    // Detaching twice is no error.
    CHECK(set_syn_drop_filter(listener.get(), {}, &error));
}

TEST_CASE("a connection the kernel took before the filter is accepted and carries data after it") {
    uint16_t port = 0;
    UniqueFd listener = listen_any(&port);
    UniqueFd client;
    REQUIRE(connects_within("127.0.0.2", port, 2000, &client));
    std::string error;
    REQUIRE(set_syn_drop_filter(listener.get(), {ip_bytes("127.0.0.2"), ip_bytes("127.0.0.9")}, &error));
    UniqueFd server(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(server);
    REQUIRE(send(client.get(), "ping", 4, 0) == 4);
    char buf[8] = {};
    pollfd p{server.get(), POLLIN, 0};
    REQUIRE(poll(&p, 1, 2000) == 1);
    CHECK(recv(server.get(), buf, sizeof buf, 0) == 4);
}

TEST_CASE("connections on a virtual IP are counted until the last byte sent on them is acknowledged") {
    uint16_t port = 0;
    UniqueFd listener = listen_any(&port);
    CHECK(open_on("127.0.0.3") == 0);  // the listener itself does not count
    UniqueFd client;
    REQUIRE(connects_within("127.0.0.3", port, 2000, &client));
    // Established in the accept queue, not yet accepted: it counts.
    CHECK(open_on("127.0.0.3") == 1);
    UniqueFd server(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(server);
    CHECK(open_on("127.0.0.3") == 1);
    CHECK(open_on("127.0.0.4") == 0);
    // The server answers and closes first: once the client's kernel has
    // acknowledged the answer and the FIN (FIN-WAIT-2), nothing needs the address.
    REQUIRE(send(server.get(), "answer", 6, 0) == 6);
    server.reset();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (open_on("127.0.0.3") != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition, with a deadline
    CHECK(open_on("127.0.0.3") == 0);
}

}  // namespace
}  // namespace lbd
