// How many connections a listener (core/tier/tcp_listener.h) takes in one
// turn of its worker's event loop: a plain listener up to 64, a TLS listener
// one, whose handshake would otherwise hold up the requests of connections
// already open. On loopback sockets with a stepped event loop.
#include <doctest/doctest.h>

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/loop/event.h"
#include "core/tier/tcp_listener.h"

namespace lbd {
namespace {

// `count` connections to `to`, each completed by the kernel (in the accept
// queue) when this returns.
std::vector<UniqueFd> connect_many(const SocketAddress& to, int count) {
    std::vector<UniqueFd> out;
    for (int i = 0; i < count; ++i) {
        UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(fd);
        REQUIRE(connect(fd.get(), to.sockaddr_ptr(), to.length()) == 0);
        out.push_back(std::move(fd));
    }
    return out;
}

// Accepted connections after each of `turns` loop turns, with `pending`
// connections waiting in the accept queue of a listener with TLS on or off.
std::vector<size_t> accepted_per_turn(bool tls, int pending, int turns) {
    ListenerConfig config;
    config.name = "front";
    config.mode = ListenerMode::kHttp;
    config.bind = *SocketAddress::parse("127.0.0.1:0");
    config.tls.enabled = tls;
    std::string error;
    UniqueFd fd = open_listen_socket(config, config.bind, &error);
    REQUIRE_MESSAGE(fd, error);
    const SocketAddress bound = *SocketAddress::local_of(fd.get());

    EventBasePtr base(event_base_new());
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint32_t> active{0};
    std::vector<UniqueFd> taken;
    TcpListener listener(base.get(), config, accepted, active, std::move(fd),
                         [&](UniqueFd client, const SocketAddress&) { taken.push_back(std::move(client)); });
    listener.start();
    std::vector<UniqueFd> clients = connect_many(bound, pending);
    std::vector<size_t> counts;
    for (int i = 0; i < turns; ++i) {
        event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        counts.push_back(taken.size());
    }
    CHECK(accepted.load() == taken.size());
    return counts;
}

TEST_CASE("a plain listener takes every waiting connection in one loop turn") {
    CHECK(accepted_per_turn(false, 5, 2) == std::vector<size_t>{5, 5});
}

TEST_CASE("a TLS listener takes one connection per loop turn") {
    CHECK(accepted_per_turn(true, 3, 4) == std::vector<size_t>{1, 2, 3, 3});
}

}  // namespace
}  // namespace lbd
