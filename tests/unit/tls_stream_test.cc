// TLS client streams (l7/tls_stream.h) on one end of a socketpair, an OpenSSL client on the
// other, one event loop stepped by the test: the handshake's end, bytes both ways, and parking
// (transport.h): a stream taken apart into its socket and SSL and built again, the connection
// going on without a new handshake.
#include <doctest/doctest.h>
#include <event2/event.h>
#include <sys/socket.h>

#include <string>

#include "l7/socket_io.h"
#include "l7/transport.h"
#include "tests/unit/tls_test_kit.h"

namespace lbd::l7::test {
namespace {

// What the server-side stream's callbacks saw.
struct Seen {
    std::string bytes;
    short events = 0;
};

void on_read(bufferevent* bev, void* arg) {
    evbuffer* in = bufferevent_get_input(bev);
    std::string chunk(evbuffer_get_length(in), '\0');
    evbuffer_remove(in, chunk.data(), chunk.size());
    static_cast<Seen*>(arg)->bytes += chunk;
}

void on_event(bufferevent*, short what, void* arg) { static_cast<Seen*>(arg)->events |= what; }

void watch(ClientStream& stream, Seen* seen) {
    bufferevent_setcb(stream.bev.get(), &on_read, nullptr, &on_event, seen);
    enable_stream(stream.bev.get());
    read_now(stream.bev.get());
}

std::shared_ptr<TlsServerContext> server_context() {
    TlsServerSettings settings;
    settings.certificates = {cert("default")};
    return build_server(settings);
}

// Turns the loop (without blocking) until `done`, or fails at the deadline.
template <class Done>
bool step_until(event_base* base, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
    while (std::chrono::steady_clock::now() < deadline) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (done()) return true;
    }
    return false;
}

TEST_CASE("a TLS client stream: handshake, both ways, parked into fd + SSL and resumed without a handshake") {
    auto server = server_context();
    EventBasePtr base(event_base_new());
    REQUIRE(base);
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
    UniqueFd peer(fds[1]);

    SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
    SslPtr client(SSL_new(client_ctx.get()));
    SSL_set_fd(client.get(), peer.get());
    SSL_set_connect_state(client.get());
    auto client_read = [&](std::string* into) {
        char buf[256];
        int n = SSL_read(client.get(), buf, sizeof buf);
        if (n > 0) into->append(buf, static_cast<size_t>(n));
        return n;
    };

    ClientStream stream = make_client_stream(base.get(), UniqueFd(fds[0]), server.get());
    REQUIRE(stream.tls);
    CHECK(stream.scheme == "https");
    Seen first;
    watch(stream, &first);
    REQUIRE(step_until(base.get(), [&] {
        return SSL_do_handshake(client.get()) == 1 && (first.events & BEV_EVENT_CONNECTED);
    }));

    REQUIRE(SSL_write(client.get(), "hello", 5) == 5);
    REQUIRE(step_until(base.get(), [&] { return first.bytes == "hello"; }));
    bufferevent_write(stream.bev.get(), "answer", 6);
    flush_output(stream.bev.get());
    std::string got;
    REQUIRE(step_until(base.get(), [&] { return client_read(&got) > 0 && got == "answer"; }));

    // Idle: parked (as HttpSession::park_idle does), the socket and the SSL kept. The client
    // speaks meanwhile; its bytes wait in the socket.
    SSL* const ssl = stream.ssl;
    UniqueFd fd(bufferevent_getfd(stream.bev.get()));
    SslPtr taken = release_client_ssl(stream);
    REQUIRE(taken.get() == ssl);
    CHECK(!stream.tls);
    bufferevent_setfd(stream.bev.get(), -1);
    stream.bev.reset();
    REQUIRE(SSL_write(client.get(), "again", 5) == 5);
    event_base_loop(base.get(), EVLOOP_NONBLOCK);  // nothing of the parked connection runs

    ClientStream resumed = resume_client_stream(base.get(), std::move(fd), std::move(taken));
    REQUIRE(resumed.tls);
    CHECK(resumed.ssl == ssl);
    Seen second;
    watch(resumed, &second);
    REQUIRE(step_until(base.get(), [&] { return second.bytes == "again"; }));
    CHECK(!(second.events & BEV_EVENT_CONNECTED));  // no second handshake
    bufferevent_write(resumed.bev.get(), "still here", 10);
    flush_output(resumed.bev.get());
    got.clear();
    REQUIRE(step_until(base.get(), [&] { return client_read(&got) > 0 && got == "still here"; }));

    // A clean close: close_notify reaches the client.
    close_notify(resumed);
    resumed.bev.reset();
    REQUIRE(step_until(base.get(), [&] {
        return client_read(&got) <= 0 && (SSL_get_shutdown(client.get()) & SSL_RECEIVED_SHUTDOWN);
    }));
}

TEST_CASE("a TLS client stream replaced by move assignment, or freed before its owner, leaves nothing behind") {
    auto server = server_context();
    EventBasePtr base(event_base_new());
    REQUIRE(base);
    int fds[4];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds + 2) == 0);
    UniqueFd peer1(fds[1]);
    UniqueFd peer2(fds[3]);
    ClientStream stream = make_client_stream(base.get(), UniqueFd(fds[0]), server.get());
    enable_stream(stream.bev.get());
    // The members go in declaration order: the old TlsStream before the old bufferevent.
    stream = make_client_stream(base.get(), UniqueFd(fds[2]), server.get());
    enable_stream(stream.bev.get());
    // The first stream's socket is closed only when libevent finalizes it, in the loop: readable now.
    REQUIRE(send(peer1.get(), "x", 1, MSG_NOSIGNAL) == 1);
    // The bufferevent first (as HttpSession::close does), the TlsStream later.
    stream.bev.reset();
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    CHECK(TlsStream::of(stream.bev.get()) == nullptr);
}

}  // namespace
}  // namespace lbd::l7::test
