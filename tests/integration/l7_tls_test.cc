// TLS on HTTP listeners, end to end: the real lbd terminating TLS for curl and openssl s_client
// (SNI, key types, ALPN, versions, client certificates, keep-alive, large bodies, handshake
// failures and timeouts, reloads), and re-encrypting to an `openssl s_server` backend.
// Certificates come from the TLS unit tests' kit (made once per run with the openssl CLI).
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <fstream>
#include <map>
#include <string>

#include "tests/integration/l7_tls_scenario.h"
#include "tests/unit/config_test_kit.h"

namespace lbd::test {
namespace {

using l7::test::pki;

// curl to https://NAME:PORT/PATH, NAME resolving to 127.0.0.1, trusting the test CA.
CurlRun curl_https(uint16_t port, const std::string& name, const std::string& path,
                   std::vector<std::string> extra = {}) {
    const std::string p = std::to_string(port);
    std::vector<std::string> args{"--cacert", pem("ca"), "--resolve", name + ":" + p + ":127.0.0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("https://" + name + ":" + p + path);
    return curl(args);
}

l7::test::RunResult s_client(uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                  "-CAfile", pem("ca")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return l7::test::run(argv);
}

// Polls a counter until it reaches `want` (the session counts after the client has seen the close).
bool metric_reaches(uint16_t admin, const std::string& sample, double want) {
    return poll_until([&] { return metric(admin, sample) >= want; });
}

const std::string kFailures = "lbd_http_tls_handshake_failures_total{listener=\"front\",reason=\"error\"}";
const std::string kTimeouts = "lbd_http_tls_handshake_failures_total{listener=\"front\",reason=\"timeout\"}";

TEST_CASE("SNI picks the certificate; an unknown name gets the default; ECDSA and RSA are both served") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    CurlRun named = curl_https(lbd.port(), "a.example.test", "/x", {"-v"});
    CHECK_MESSAGE(named.exit_code == 0, named.output);
    CHECK(has(named.output, "subject: CN=a.example.test"));
    CHECK(has(named.output, "server=a"));
    CurlRun other = curl_https(lbd.port(), "default.example.test", "/y", {"-v"});
    CHECK_MESSAGE(other.exit_code == 0, other.output);
    CHECK(has(other.output, "subject: CN=default.example.test"));
    // A name no certificate serves: the default certificate (so the name check fails without -k).
    CurlRun unknown = curl_https(lbd.port(), "unknown.example.test", "/z", {"-v", "-k"});
    CHECK_MESSAGE(unknown.exit_code == 0, unknown.output);
    CHECK(has(unknown.output, "subject: CN=default.example.test"));
    CHECK(curl_https(lbd.port(), "unknown.example.test", "/z").exit_code != 0);

    // One name, two key types: the client's cipher choice picks (TLS 1.2 names the key type).
    auto rsa = s_client(lbd.port(), {"-servername", "a.example.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"});
    CHECK_MESSAGE(l7::test::contains(rsa.output, "Server public key is 2048 bit"), rsa.output);
    auto ec = s_client(lbd.port(), {"-servername", "a.example.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"});
    CHECK_MESSAGE(l7::test::contains(ec.output, "Server public key is 256 bit"), ec.output);

    // The access log names the version and the SNI.
    auto line = lbd->await_line(http_line_for("/x"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "sni") == "a.example.test");
    CHECK(field(*line, "tls").rfind("TLSv1.", 0) == 0);

    // lbctl status (the admin API) says what the listener speaks.
    const uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    auto status = http_request(admin, get_request("/api/status", "127.0.0.1"), kIoTimeoutMs);
    REQUIRE(status);
    CHECK_MESSAGE(has(status->body, "\"mode\":\"https\""), status->body);
}

TEST_CASE("ALPN negotiates http/1.1; TLS 1.1 is refused and counted, and the listener keeps serving") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);

    auto alpn = s_client(lbd.port(), {"-servername", "a.example.test", "-alpn", "http/1.1"});
    CHECK_MESSAGE(l7::test::contains(alpn.output, "ALPN protocol: http/1.1"), alpn.output);
    CHECK(l7::test::contains(alpn.output, "Verify return code: 0 (ok)"));
    CHECK(metric(admin, kFailures) == 0);

    // @SECLEVEL=0 lets the client offer TLS 1.1 at all; the server must be the one refusing.
    auto old = s_client(lbd.port(), {"-servername", "a.example.test", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"});
    CHECK_MESSAGE(old.exit_code != 0, old.output);
    CHECK(metric_reaches(admin, kFailures, 1));

    // Plain HTTP on the TLS port: refused, counted, not logged as a request.
    auto plain = http_request(lbd.port(), get_request("/plain"), kIoTimeoutMs);
    CHECK((!plain || plain->status == 0));
    CHECK(metric_reaches(admin, kFailures, 2));
    CHECK(lbd->count(" path=/plain ") == 0);

    CurlRun after = curl_https(lbd.port(), "a.example.test", "/after");
    CHECK_MESSAGE(after.exit_code == 0, after.output);
    CHECK(has(after.output, "server=a"));
    CHECK(metric(admin, "lbd_http_tls_handshakes_total{listener=\"front\"}") >= 2);
}

TEST_CASE("sessions resume through lbd (tickets, TLS 1.2 and 1.3); the JSON log has tls and sni") {
    HttpBackend a("a");
    // A silent connection is closed (cleanly) after 500 ms: s_client -ign_eof waits for that close, so
    // it has read the TLS 1.3 ticket, sent after the handshake, before it saves the session.
    RunningLbd lbd(tls_config(a, sni_tls() + "  http { log_format: HTTP_LOG_FORMAT_JSON timeouts { client_header_ms: 500 } }\n"));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    for (const std::string version : {"-tls1_2", "-tls1_3"}) {
        CAPTURE(version);
        const std::string session = pki().path("lbd_sess" + version);
        auto first = s_client(lbd.port(), {version, "-ign_eof", "-servername", "a.example.test", "-sess_out", session});
        CHECK_MESSAGE(l7::test::contains(first.output, "New, TLS"), first.output);
        auto again = s_client(lbd.port(), {version, "-ign_eof", "-servername", "a.example.test", "-sess_in", session});
        CHECK_MESSAGE(l7::test::contains(again.output, "Reused, TLS"), again.output);
    }

    CurlRun run = curl_https(lbd.port(), "a.example.test", "/json");
    CHECK_MESSAGE(run.exit_code == 0, run.output);
    auto line = lbd->await_line("\"path\":\"/json\"", kIoTimeoutMs);
    REQUIRE(line);
    CHECK(has(*line, ",\"tls\":\"TLSv1.3\",\"sni\":\"a.example.test\"}"));
}

TEST_CASE("a handshake not finished within handshake_timeout_ms is closed and counted") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls("      handshake_timeout_ms: 300\n")));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t admin = admin_port(lbd);
    REQUIRE(admin != 0);
    UniqueFd fd = connect_tcp(lbd.port(), kIoTimeoutMs);
    REQUIRE(fd);
    // Silent: lbd closes at 300 ms; the 3 s bound only decides failure.
    pollfd p{fd.get(), POLLIN, 0};
    REQUIRE(poll(&p, 1, kIoTimeoutMs) == 1);
    char c;
    CHECK(recv(fd.get(), &c, 1, 0) <= 0);
    CHECK(metric_reaches(admin, kTimeouts, 1));
}

TEST_CASE("client certificates: a required one refuses curl without it and accepts it with it") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls("      client_verify: TLS_CLIENT_VERIFY_REQUIRED\n"
                                         "      client_ca_file: \"" + pem("ca") + "\"\n")));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CurlRun without = curl_https(lbd.port(), "a.example.test", "/nocert");
    CHECK(without.exit_code != 0);
    CHECK(!has(without.output, "server=a"));
    CurlRun stranger = curl_https(lbd.port(), "a.example.test", "/stranger",
                                  {"--cert", pem("stranger"), "--key", key("stranger")});
    CHECK(stranger.exit_code != 0);
    CurlRun with = curl_https(lbd.port(), "a.example.test", "/cert", {"--cert", pem("client"), "--key", key("client")});
    CHECK_MESSAGE(with.exit_code == 0, with.output);
    CHECK(has(with.output, "server=a"));
}

TEST_CASE("over TLS: X-Forwarded-Proto https, keep-alive, and 20 MB bodies both ways") {
    HttpBackend a("a");
    RunningLbd lbd(tls_config(a, sni_tls()));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Three requests on one connection (curl reuses it for URLs of one host).
    const std::string base = "https://a.example.test:" + std::to_string(lbd.port());
    CurlRun three = curl({"--cacert", pem("ca"), "--resolve", "a.example.test:" + std::to_string(lbd.port()) + ":127.0.0.1",
                          base + "/k1", base + "/k2", base + "/k3"});
    CHECK_MESSAGE(three.exit_code == 0, three.output);
    REQUIRE(lbd->await_count(" tls=TLSv1.3 ", 3, kIoTimeoutMs));
    std::map<std::string, int> clients;
    for (const std::string& line : lbd->lines())
        if (has(line, " path=/k")) ++clients[field(line, "client")];
    CHECK(clients.size() == 1);
    CHECK(clients.begin()->second == 3);
    bool proto = false;
    for (const std::string& head : a.heads()) proto = proto || has(head, "X-Forwarded-Proto: https\r\n");
    CHECK(proto);

    // 20 MB up (the backend counts it) and 20 MB down.
    const size_t big = 20 * 1024 * 1024;
    TempFile upload(std::string(big, 'u'), ".bin");
    CurlRun up = curl_https(lbd.port(), "a.example.test", "/upload", {"--data-binary", "@" + upload.path()});
    CHECK_MESSAGE(up.exit_code == 0, up.output.substr(0, 500));
    CHECK(has(up.output, "body_bytes=" + std::to_string(big)));
    CurlRun down = curl_https(lbd.port(), "a.example.test", "/bytes/" + std::to_string(big),
                              {"-o", "/dev/null", "-w", "size=%{size_download} code=%{http_code}"});
    CHECK_MESSAGE(down.exit_code == 0, down.output);
    CHECK(has(down.output, "size=" + std::to_string(big) + " code=200"));
}

// `openssl s_server -www` on 127.0.0.1 with `name`'s certificate, as a TLS backend.
class TlsBackend {
public:
    explicit TlsBackend(const std::string& name)
        : process_({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", pem(name), "-key", key(name),
                    "-www", "-naccept", "1000"}) {
        auto line = process_.await_line("ACCEPT 127.0.0.1:", kIoTimeoutMs);
        if (line) port_ = static_cast<uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
    }
    uint16_t port() const { return port_; }

private:
    ChildProcess process_;
    uint16_t port_ = 0;
};

std::string reencrypt_config(uint16_t backend_port, const std::string& server_tls) {
    return "global { workers: 2 drain_timeout_ms: 2000 }\n"
           "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"tls\" }\n"
           "pools {\n  name: \"tls\"\n  connect_timeout_ms: 1000\n  retries_disabled: true\n" +
           server_entry("s", backend_port) + "  tls {\n" + server_tls + "  }\n}\n";
}

// The status line lbd answers a request with, through a pool re-encrypting with `server_tls`.
std::string status_through(uint16_t backend_port, const std::string& server_tls) {
    RunningLbd lbd(reencrypt_config(backend_port, server_tls));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CurlRun run = curl({"-i", url(lbd.port(), "/")});
    INFO(run.output);
    if (has(run.output, "HTTP/1.1 200")) CHECK(has(run.output, "Ciphers supported in s_server"));
    return run.output.substr(0, run.output.find('\r'));
}

TEST_CASE("re-encryption: verified by server_name or by address with the right CA, refused with another") {
    TlsBackend by_name("ec");  // a.example.test
    TlsBackend by_ip("ip");    // IP SAN 127.0.0.1
    REQUIRE(by_name.port() != 0);
    REQUIRE(by_ip.port() != 0);
    const std::string ca = "    ca_file: \"" + pem("ca") + "\"\n";
    const std::string other_ca = "    ca_file: \"" + pem("other_ca") + "\"\n";
    const std::string name = "    server_name: \"a.example.test\"\n";
    CHECK(status_through(by_name.port(), ca + name) == "HTTP/1.1 200 ok");
    CHECK(status_through(by_ip.port(), ca) == "HTTP/1.1 200 ok");  // checked against its address
    CHECK(status_through(by_name.port(), ca + "    server_name: \"b.example.test\"\n") == "HTTP/1.1 503 Service Unavailable");
    CHECK(status_through(by_name.port(), other_ca + name) == "HTTP/1.1 503 Service Unavailable");
    CHECK(status_through(by_name.port(), other_ca + name + "    verify: false\n") == "HTTP/1.1 200 ok");
}

TEST_CASE("a broken certificate: lbd -t names file:line and the file; a reload is refused and the old one serves") {
    HttpBackend a("a");
    const std::string good = tls_config(a, sni_tls());
    std::string broken = good;
    const std::string rsa_pem = pem("rsa");
    broken.replace(broken.find(rsa_pem), rsa_pem.size(), pem("garbage"));
    const int line = line_of(broken, pem("garbage"));

    auto check = LbdProcess::run_check(broken);
    CHECK(check.exit_code != 0);
    CHECK_MESSAGE(has(check.output, check.config_path + ":" + std::to_string(line) + ":"), check.output);
    CHECK(has(check.output, pem("garbage")));

    RunningLbd lbd(good);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    std::ofstream(lbd->config_path(), std::ios::trunc) << broken;
    REQUIRE(lbd->send_signal(SIGHUP));
    auto rejected = lbd->await_line("reload rejected", kIoTimeoutMs);
    REQUIRE(rejected);
    CHECK(has(*rejected, ":" + std::to_string(line) + ":"));
    CHECK(has(*rejected, pem("garbage")));
    CurlRun still = curl_https(lbd.port(), "a.example.test", "/still");
    CHECK_MESSAGE(still.exit_code == 0, still.output);
    CHECK(has(still.output, "server=a"));
}

TEST_CASE("redirect to https: an http listener sends clients to the TLS one") {
    HttpBackend a("a");
    const std::string config =
        tls_config(a, sni_tls()) +
        "listeners {\n  name: \"plain\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n"
        "  http { routes { redirect { status: 301 scheme: \"https\" } } }\n}\n";
    RunningLbd lbd(config);
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    uint16_t plain = lbd->listener_port("plain");
    REQUIRE(plain != 0);
    auto reply = http_request(plain, get_request("/go?x=1", "a.example.test"), kIoTimeoutMs);
    REQUIRE(reply);
    CHECK(reply->status == 301);
    CHECK(reply->header("Location") == "https://a.example.test/go?x=1");
}

}  // namespace
}  // namespace lbd::test
