// The live, authenticated sync link is not cut by a new connection from the
// peer's address until that connection proves the key (issue 16, finding 5):
// anyone able to send from the peer's IP could otherwise cut the sync at will.
// Real loopback sockets, one event loop (sync_link_kit.h).
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <string>

#include "ha/sync_codec.h"
#include "tests/unit/sync_link_kit.h"

namespace lbd::ha {
namespace {

// A socket connected to B's sync port from A's address, as a spoofer on
// A's host (or a restarted A) would open it.
UniqueFd connect_from_a(const Pair& pair) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SocketAddress from = address("127.0.0.1", 0);
    REQUIRE(bind(fd.get(), from.sockaddr_ptr(), from.length()) == 0);
    const SocketAddress& to = pair.b.options.listen;
    REQUIRE(connect(fd.get(), to.sockaddr_ptr(), to.length()) == 0);
    return fd;
}

// True once `fd` has seen EOF or a reset (the loop runs meanwhile).
bool closed_by_peer(Pair& pair, int fd) {
    return pair.run_until(5000, [&] {
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    });
}

}  // namespace

TEST_CASE("a silent connection from the peer's address leaves the live link up, and is closed at the deadline") {
    Pair pair;
    pair.start();
    pair.connect();
    UniqueFd intruder = connect_from_a(pair);
    REQUIRE(pair.run_until(2000, [&] { return pair.b.stats().connects == 2; }));
    run_for(pair.base.get(), 100);
    CHECK(pair.b.recorder.downs == 0);
    CHECK(pair.a.recorder.downs == 0);
    CHECK(pair.b.up());
    // The handshake deadline (3 heartbeats) closes the intruder, not the link.
    CHECK(closed_by_peer(pair, intruder.get()));
    CHECK(pair.b.recorder.downs == 0);
    CHECK(pair.b.up());

    // Changes still flow on the link that was kept.
    pair.a.local(health("s1", ServerHealth::DOWN));
    CHECK(pair.run_until(2000, [&] { return pair.b.recorder.health.size() == 1; }));
}

TEST_CASE("a connection that sends junk after a good preamble leaves the live link up") {
    Pair pair;
    pair.start();
    pair.connect();
    UniqueFd intruder = connect_from_a(pair);
    auto nonce = random_nonce();
    REQUIRE(nonce);
    // A well-formed preamble, then junk where its first frame should be (it cannot sign one).
    std::string bytes = encode_preamble(*nonce) + std::string(64, '\x01');
    REQUIRE(send(intruder.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
    CHECK(closed_by_peer(pair, intruder.get()));
    CHECK(pair.b.recorder.downs == 0);
    CHECK(pair.a.recorder.downs == 0);
    CHECK(pair.b.up());
    CHECK(pair.b.stats().connects == 2);
}

TEST_CASE("a peer that reconnects with the key replaces the live link once its Hello is checked") {
    Pair pair;
    pair.start();
    pair.connect();
    // A second A (a restarted one: same node id, key and source address)
    // dials B while B still holds the old, live link.
    Node a2{"a", 303};
    a2.base = pair.base.get();
    a2.options = pair.a.options;
    a2.options.listen = address("127.0.0.1", free_port("127.0.0.1"));
    a2.start();
    REQUIRE(pair.run_until(5000, [&] { return pair.b.recorder.ups == 2 && a2.up(); }));
    CHECK(pair.b.recorder.downs == 1);  // the old link went down as the new one came up
    pair.a.link.reset();                // the old A is gone, as after a reboot
    a2.local(health("s2", ServerHealth::DOWN));
    CHECK(pair.run_until(2000, [&] {
        for (const auto& h : pair.b.recorder.health)
            if (h.server() == "s2" && h.state() == ServerHealth::DOWN) return true;
        return false;
    }));
    CHECK(pair.b.up());
}

}  // namespace lbd::ha
