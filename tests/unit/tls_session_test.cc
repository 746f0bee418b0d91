// The server context's sessions (tickets across rotations, the session cache), client
// certificates, the client context, and ticket rotation under concurrent handshakes.
#include <doctest/doctest.h>

#include "tests/unit/tls_test_kit.h"

namespace lbd::l7::test {
namespace {

void check_ticket_rotation(const std::string& version) {
    TlsServerSettings settings = sni_settings();
    settings.ticket_rotation_s = 3600;
    settings.ticket_key_lifetime_s = 300;
    uint64_t t0 = monotonic_ms();
    auto context = build_server(settings);
    TestServer server(context);
    auto session = [&](const std::string& name) { return pki().path("sess_" + version + "_" + name); };
    auto client = [&](std::vector<std::string> args) {
        args.insert(args.end(), {version, "-servername", "a.example.test"});
        RunResult r = s_client(server, args);
        CAPTURE(r.output);
        CHECK(r.exit_code == 0);
        return r;
    };

    RunResult r = client({"-sess_out", session("1")});
    CHECK(contains(r.output, "New, TLS"));
    CHECK_FALSE(server.record(0).reused);
    CHECK(context->ticket_stats().issued >= 1);

    // (A TLS 1.2 ticket that resumes under the current key is not re-issued: nothing new to save.)
    r = client({"-sess_in", session("1")});
    CHECK(contains(r.output, "Reused, TLS"));
    CHECK(server.record(1).reused);
    CHECK(context->ticket_stats().resumed_current == 1);

    // Not yet due; then due: the key made at build becomes retired and still decrypts.
    CHECK_FALSE(context->rotate_ticket_keys(t0 + 1000));
    uint64_t t1 = t0 + 3600 * 1000 + 60'000;
    CHECK(context->rotate_ticket_keys(t1));
    CHECK(context->ticket_key_count() == 2);
    uint64_t issued = context->ticket_stats().issued;
    r = client({"-sess_in", session("1"), "-sess_out", session("2")});
    CHECK(contains(r.output, "Reused, TLS"));
    CHECK(server.record(2).reused);
    CHECK(context->ticket_stats().resumed_retired == 1);
    CHECK(context->ticket_stats().issued > issued);  // re-issued under the current key

    // s_client saves a ticket received in a resumed TLS 1.2 handshake nowhere (OpenSSL calls
    // the new-session callback for full handshakes only there); under TLS 1.3 it does.
    size_t next = 3;
    if (version == "-tls1_3") {
        r = client({"-sess_in", session("2")});
        CHECK(contains(r.output, "Reused, TLS"));
        CHECK(server.record(next++).reused);
        CHECK(context->ticket_stats().resumed_current == 2);
    }

    // Past the retired key's lifetime it is gone: a ticket issued under it no longer resumes
    // (and, TLS 1.2, the session ID sent beside the ticket is not looked up in the cache).
    CHECK_FALSE(context->rotate_ticket_keys(t1 + 300 * 1000));
    CHECK(context->ticket_key_count() == 1);
    r = client({"-sess_in", session("1")});
    CHECK(contains(r.output, "New, TLS"));
    CHECK_FALSE(server.record(next).reused);
    CHECK(context->ticket_stats().unknown_key == 1);
    CHECK(context->ticket_stats().resumed_retired == 1);
}

TEST_CASE("session tickets resume across a key rotation, and not after the key's lifetime") {
    SUBCASE("TLS 1.3") { check_ticket_rotation("-tls1_3"); }
    SUBCASE("TLS 1.2") { check_ticket_rotation("-tls1_2"); }
}

TEST_CASE("without tickets, the server-side session cache resumes; with size 0 nothing does") {
    // s_client -msg prints each handshake message received ("<<< ..., NewSessionTicket").
    auto tickets_received = [](const std::string& output) {
        size_t count = 0;
        for (size_t at = output.find(", NewSessionTicket"); at != std::string::npos;
             at = output.find(", NewSessionTicket", at + 1)) {
            ++count;
        }
        return count;
    };
    for (const std::string version : {"-tls1_3", "-tls1_2"}) {
        CAPTURE(version);
        TlsServerSettings settings = sni_settings();
        settings.session_tickets = false;
        auto context = build_server(settings);
        TestServer server(context);
        std::string file = pki().path("cache" + version);
        RunResult r = s_client(server, {version, "-msg", "-sess_out", file});
        CHECK(contains(r.output, "New, TLS"));
        // TLS 1.3 resumes from the cache by stateful tickets (OpenSSL's two); TLS 1.2 by session ID.
        CHECK(tickets_received(r.output) == (version == "-tls1_3" ? 2 : 0));
        r = s_client(server, {version, "-sess_in", file});
        CAPTURE(r.output);
        CHECK(contains(r.output, "Reused, TLS"));
        CHECK(server.record(1).reused);
        CHECK(context->ticket_stats().issued == 0);
        CHECK(SSL_CTX_sess_hits(context->ctx()) == 1);

        settings.session_cache_size = 0;
        TestServer uncached(build_server(settings));
        r = s_client(uncached, {version, "-msg", "-sess_out", file});
        // Nothing resumes, so no ticket is sent: each would cost both sides for nothing.
        CHECK(contains(r.output, "New, TLS"));
        CHECK(tickets_received(r.output) == 0);
        r = s_client(uncached, {version, "-sess_in", file});
        CHECK(contains(r.output, "New, TLS"));
        CHECK_FALSE(uncached.record(1).reused);
    }
}

TEST_CASE("client certificates: required, optional, and from an unknown CA") {
    TlsServerSettings settings = sni_settings();
    settings.client_verify = TlsClientVerify::kRequired;
    settings.client_ca_file = pki().path("ca.pem");
    TestServer server(build_server(settings));
    const std::vector<std::string> good = {"-cert", pki().path("client.pem"), "-key", pki().path("client.key")};
    const std::vector<std::string> stranger = {"-cert", pki().path("stranger.pem"), "-key", pki().path("stranger.key")};

    for (const char* version : {"-tls1_3", "-tls1_2"}) {
        CAPTURE(version);
        size_t base = server.record_count();
        std::vector<std::string> args = good;
        args.push_back(version);
        RunResult r = s_client(server, args);
        CAPTURE(r.output);
        ServerRecord record = server.record(base);
        CHECK(record.ok);
        CHECK(record.peer_verified);
        CHECK(record.peer == "CN=client one");
        // The CertificateRequest names our CA.
        CHECK(contains(r.output, "Acceptable client certificate CA names"));
        CHECK(contains(r.output, "CN = lbd test CA"));

        s_client(server, {version});
        record = server.record(base + 1);
        CHECK_FALSE(record.ok);
        CHECK(contains(record.error, "peer did not return a certificate"));

        args = stranger;
        args.push_back(version);
        s_client(server, args);
        record = server.record(base + 2);
        CHECK_FALSE(record.ok);
        CHECK(contains(record.error, "certificate verify failed"));
    }

    settings.client_verify = TlsClientVerify::kOptional;
    TestServer optional(build_server(settings));
    s_client(optional, {});
    CHECK(optional.record(0).ok);
    CHECK(optional.record(0).peer.empty());
    s_client(optional, good);
    CHECK(optional.record(1).peer_verified);
    s_client(optional, stranger);
    CHECK_FALSE(optional.record(2).ok);  // optional, but one that is sent must verify
}

TEST_CASE("client context: verifies the chain and the host name, sends SNI, ALPN and its certificate") {
    TlsServerSettings server_settings = sni_settings();
    server_settings.certificates.push_back(cert("rogue"));  // never chosen: a.example.test is taken
    TestServer server(build_server(server_settings));
    TlsServerSettings rogue_settings;
    rogue_settings.certificates = {cert("rogue")};
    TestServer rogue(build_server(rogue_settings));

    TlsClientSettings settings;
    settings.ca_file = pki().path("ca.pem");
    settings.server_name = "a.example.test";
    settings.alpn = {"http/1.1"};
    auto built = TlsClientContext::build(settings);
    REQUIRE(built.context);
    CHECK(built.warnings.empty());
    const TlsClientContext& client = *built.context;

    ClientOutcome ok = connect_with(client, server.port(), {});
    CHECK(ok.ok);
    CHECK(ok.verify == "ok");
    CHECK(ok.alpn == "http/1.1");
    CHECK(contains(ok.line, "sni=a.example.test alpn=http/1.1 cert=a.example.test"));

    // The wildcard certificate verifies for a name under it (name given per connection).
    ClientOutcome wild = connect_with(client, server.port(), "x.wild.example.test");
    CHECK(wild.ok);
    CHECK(contains(wild.line, "sni=x.wild.example.test"));

    // The server answers unknown names with the default certificate: wrong name, refused.
    ClientOutcome wrong = connect_with(client, server.port(), "b.example.test");
    CHECK_FALSE(wrong.ok);
    CHECK(wrong.verify == "hostname mismatch");
    CHECK(contains(wrong.error, "certificate verify failed"));

    // A certificate for the right name from a CA we do not trust.
    ClientOutcome untrusted = connect_with(client, rogue.port(), {});
    CHECK_FALSE(untrusted.ok);
    CHECK(untrusted.verify == "unable to get local issuer certificate");

    // An IP literal: no SNI is sent (RFC 6066), and the name check is against IP SANs: none.
    ClientOutcome ip = connect_with(client, server.port(), "127.0.0.1");
    CHECK_FALSE(ip.ok);
    CHECK(ip.verify == "IP address mismatch");

    // Verification off: anything goes, and build() says so.
    TlsClientSettings lax = settings;
    lax.verify = false;
    auto lax_built = TlsClientContext::build(lax);
    REQUIRE(lax_built.context);
    CHECK(lax_built.warnings.size() == 1);
    CHECK(connect_with(*lax_built.context, rogue.port(), {}).ok);

    // A client certificate, to a server that requires one.
    TlsServerSettings mtls = sni_settings();
    mtls.client_verify = TlsClientVerify::kRequired;
    mtls.client_ca_file = pki().path("ca.pem");
    TestServer mtls_server(build_server(mtls));
    // Without one the server refuses (under TLS 1.3 the client learns it only when reading).
    ClientOutcome refused = connect_with(client, mtls_server.port(), {});
    CHECK(refused.line.empty());
    CHECK_FALSE(mtls_server.record(0).ok);
    TlsClientSettings with_cert = settings;
    with_cert.client_certificate = cert("client");
    auto cert_built = TlsClientContext::build(with_cert);
    REQUIRE(cert_built.context);
    ClientOutcome mutual = connect_with(*cert_built.context, mtls_server.port(), {});
    CHECK(mutual.ok);
    CHECK(contains(mutual.line, "peer=CN=client one"));
    CHECK(mtls_server.record(1).peer_verified);
}

TEST_CASE("ticket keys rotate while handshakes run on several threads") {
    TlsServerSettings settings = sni_settings();
    settings.ticket_rotation_s = 1;
    settings.ticket_key_lifetime_s = 1;
    settings.session_cache_size = 0;  // tickets only
    auto context = build_server(settings);
    TestServer server(context, 2);
    TlsClientSettings client_settings;
    client_settings.ca_file = pki().path("ca.pem");
    client_settings.server_name = "a.example.test";
    auto client = TlsClientContext::build(client_settings).context;
    REQUIRE(client);

    // Each worker resumes its last session and moves the shared clock 700 ms per handshake, so
    // a rotation (1 s) every few handshakes and a retired key dropped (after 1 s) a few later:
    // tickets meet the current key, a retired one, and a dropped one, on two server threads,
    // while the other worker rotates.
    constexpr int kPerThread = 25;
    std::atomic<int> failures{0};
    std::atomic<int> resumed{0};
    std::atomic<uint64_t> clock{monotonic_ms()};
    auto worker = [&] {
        SessionPtr session;
        for (int i = 0; i < kPerThread; ++i) {
            ClientOutcome out = connect_with(*client, server.port(), {}, session.get());
            if (!out.ok || !contains(out.line, "cert=a.example.test")) failures.fetch_add(1);
            if (out.reused) resumed.fetch_add(1);
            session = std::move(out.session);
            context->rotate_ticket_keys(clock.fetch_add(700) + 700);
        }
    };
    std::thread a(worker), b(worker);
    a.join();
    b.join();
    CHECK(failures.load() == 0);
    CHECK(server.record_count() == 2 * kPerThread);
    CHECK(context->ticket_key_count() <= 3);
    CHECK(resumed.load() > 0);
    TlsTicketStats stats = context->ticket_stats();
    MESSAGE("resumed " << resumed.load() << " of " << 2 * kPerThread << "; tickets: current " << stats.resumed_current
            << ", retired " << stats.resumed_retired << ", unknown key " << stats.unknown_key << ", issued "
            << stats.issued);
}

}  // namespace
}  // namespace lbd::l7::test
