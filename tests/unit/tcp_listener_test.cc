// How many connections a listener (core/tier/tcp_listener.h) takes in one
// turn of its worker's event loop: a plain listener up to 64, a TLS listener
// one, whose handshake would otherwise hold up the requests of connections
// already open; and how a worker holding more than its share of connections
// hands new ones to the least loaded (core/tier/worker_spread.h). On
// loopback sockets with a stepped event loop.
#include <doctest/doctest.h>

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
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

// An HTTP listener on an ephemeral loopback port.
ListenerConfig front_config(bool tls) {
    ListenerConfig config;
    config.name = "front";
    config.mode = ListenerMode::kHttp;
    config.bind = *SocketAddress::parse("127.0.0.1:0");
    config.tls.enabled = tls;
    return config;
}

// Accepted connections after each of `turns` loop turns, with `pending`
// connections waiting in the accept queue of a listener with TLS on or off.
std::vector<size_t> accepted_per_turn(bool tls, int pending, int turns) {
    const ListenerConfig config = front_config(tls);
    std::string error;
    UniqueFd fd = open_listen_socket(config, config.bind, &error);
    REQUIRE_MESSAGE(fd, error);
    const SocketAddress bound = *SocketAddress::local_of(fd.get());

    EventBasePtr base(event_base_new());
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint32_t> active{0};
    std::vector<UniqueFd> taken;
    WorkerSpread one_worker(1);
    TcpListener listener(base.get(), config, accepted, active, std::move(fd), AcceptSpread{one_worker, 0, {}},
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

TEST_CASE("a worker keeps its connections while within the slack of the least loaded") {
    WorkerSpread spread(3);
    for (uint32_t i = 0; i <= WorkerSpread::kSlack; ++i) CHECK(spread.place(1) == 1);
    CHECK(spread.connections(1) == WorkerSpread::kSlack + 1);
    // One more than the slack beyond workers 0 and 2: the first of them takes it.
    CHECK(spread.place(1) == 0);
    CHECK(spread.connections(0) == 1);
    CHECK(spread.handed_to(0) == 1);
    CHECK(spread.place(1) == 2);
    CHECK(spread.handed_to(2) == 1);
    // 3/1/1: within the slack again.
    CHECK(spread.place(1) == 1);
    spread.closed(1);
    spread.closed(1);
    CHECK(spread.connections(1) == 2);
    CHECK(spread.handed_to(1) == 0);
}

TEST_CASE("a listener hands a new connection to the least loaded worker's listener") {
    const ListenerConfig config = front_config(false);
    std::string error;
    UniqueFd fd0 = open_listen_socket(config, config.bind, &error);
    REQUIRE_MESSAGE(fd0, error);
    const SocketAddress bound = *SocketAddress::local_of(fd0.get());
    UniqueFd fd1 = open_listen_socket(config, bound, &error);
    REQUIRE_MESSAGE(fd1, error);

    // Both workers' listeners on one stepped loop; worker 0 already holds
    // kSlack + 1 connections, worker 1 none.
    EventBasePtr base(event_base_new());
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint32_t> active{0};
    WorkerSpread spread(2);
    for (uint32_t i = 0; i <= WorkerSpread::kSlack; ++i) REQUIRE(spread.place(0) == 0);
    std::vector<UniqueFd> taken0, taken1;
    std::unique_ptr<TcpListener> listener1;
    std::vector<size_t> handed;
    AcceptSpread spread0{spread, 0, [&](size_t to, UniqueFd client, const SocketAddress& peer) {
                             handed.push_back(to);
                             listener1->adopt(std::move(client), peer);
                         }};
    TcpListener listener0(base.get(), config, accepted, active, std::move(fd0), std::move(spread0),
                          [&](UniqueFd client, const SocketAddress&) { taken0.push_back(std::move(client)); });
    listener1 = std::make_unique<TcpListener>(
        base.get(), config, accepted, active, std::move(fd1), AcceptSpread{spread, 1, {}},
        [&](UniqueFd client, const SocketAddress&) { taken1.push_back(std::move(client)); });
    // Only worker 0's socket listens for events here: every connection the
    // kernel queued on worker 1's socket stays there.
    listener0.start();

    std::vector<UniqueFd> clients;
    int attempts = 0;
    while (accepted.load() < 4 && attempts++ < 64) {
        std::vector<UniqueFd> more = connect_many(bound, 1);
        clients.push_back(std::move(more[0]));
        event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    REQUIRE(accepted.load() == 4);
    // Worker 0 at 3 hands the first to worker 1 (3 > 0 + 2), and keeps the
    // next while within the slack: 3/1, 4/1, then hands again at 4 > 1 + 2.
    CHECK(handed == std::vector<size_t>{1, 1});
    CHECK(taken1.size() == 2);
    CHECK(taken0.size() == 2);
    CHECK(spread.connections(0) == WorkerSpread::kSlack + 1 + 2);
    CHECK(spread.connections(1) == 2);
    CHECK(spread.handed_to(1) == 2);
    // The tier reports each end on the listener that served it.
    listener1->connection_closed();
    CHECK(spread.connections(1) == 1);
}

}  // namespace
}  // namespace lbd
