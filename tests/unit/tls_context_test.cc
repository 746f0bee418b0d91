// Tests of the TLS contexts (l7/tls_context.h) with real clients on loopback.
//
// Certificates are made once per run with the openssl CLI in a temporary directory (see Pki).
// A TestServer runs TlsServerContext in threads with a blocking accept loop on 127.0.0.1:0: per
// connection it does the handshake, records what was negotiated (SNI, ALPN, certificate, version,
// resumption, client certificate) and answers that as one line. Clients are `openssl s_client`
// (a separate process, as a browser would be) for the server side, and OpenSSL in-process through
// TlsClientContext for the client side.
//
// Nothing sleeps: a server record is waited for on a condition variable with a deadline, and
// every socket and child process has a deadline that only decides failure.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/log.h"
#include "l7/tls_context.h"

extern char** environ;

namespace lbd::l7 {
namespace {

constexpr int kDeadlineMs = 20000;

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// ---- child processes ----

struct RunResult {
    int exit_code = -1;  // -1: killed, or did not start
    std::string output;  // stdout and stderr together
};

// Runs argv (PATH lookup) with stdin from /dev/null; kills it if it outlives the deadline.
RunResult run(const std::vector<std::string>& argv, int deadline_ms = kDeadlineMs) {
    RunResult result;
    int pipe_fds[2];
    REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0]);
    write_end.reset();

    uint64_t deadline = monotonic_ms() + static_cast<uint64_t>(deadline_ms);
    bool killed = false;
    char buf[4096];
    for (;;) {
        uint64_t now = monotonic_ms();
        if (now >= deadline) {
            kill(pid, SIGKILL);  // only the child we started
            killed = true;
            break;
        }
        pollfd pfd{read_end.get(), POLLIN, 0};
        if (poll(&pfd, 1, static_cast<int>(deadline - now)) <= 0) continue;
        ssize_t n = read(read_end.get(), buf, sizeof buf);
        if (n <= 0) break;
        result.output.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (killed) result.output += "\n[killed at the deadline]";
    return result;
}

// ---- certificates ----

// All test certificates, made once per run. Every leaf is signed by `ca` unless said otherwise.
struct Pki {
    std::filesystem::path dir;
    std::string path(const std::string& name) const { return (dir / name).string(); }

    // ca.pem/key (EC P-256), other_ca.pem/key (a CA nobody trusts)
    // ec:       EC P-256, CN a.example.test, SAN a.example.test, *.wild.example.test
    // rsa:      RSA 2048, CN a.example.test, SAN a.example.test
    // default:  EC P-256, SAN default.example.test
    // cn_only:  EC P-256, CN cn.example.test, no SAN
    // client:   EC P-256, CN client one (clientAuth)
    // stranger: EC P-256, CN stranger, signed by other_ca (client cert nobody trusts)
    // rogue:    EC P-256, SAN a.example.test, signed by other_ca (server cert nobody trusts)
    // expired:  EC P-256, SAN old.example.test, expired yesterday
    Pki() {
        char tmpl[] = "/tmp/lbd-tls-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        write("req.cnf", "[req]\ndistinguished_name = dn\n[dn]\n"
                         "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
                         "subjectKeyIdentifier = hash\n");
        make_ca("ca", "lbd test CA");
        make_ca("other_ca", "somebody else's CA");
        make_leaf("ec", "ec", "a.example.test", "DNS:a.example.test,DNS:*.wild.example.test", "ca", 30, 2);
        make_leaf("rsa", "rsa", "a.example.test", "DNS:a.example.test", "ca", 30, 3);
        make_leaf("default", "ec", "default.example.test", "DNS:default.example.test", "ca", 30, 4);
        make_leaf("cn_only", "ec", "cn.example.test", "", "ca", 30, 5);
        make_leaf("client", "ec", "client one", "", "ca", 30, 6);
        make_leaf("stranger", "ec", "stranger", "", "other_ca", 30, 7);
        make_leaf("rogue", "ec", "a.example.test", "DNS:a.example.test", "other_ca", 30, 8);
        make_leaf("expired", "ec", "old.example.test", "DNS:old.example.test", "ca", -1, 9);
        write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        write("text.pem", "hello, I am not PEM\n");
        // The EC leaf followed by a broken second block: a bad chain.
        write("bad_chain.pem", read("ec.pem") + "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
        RunResult r = run({"openssl", "pkey", "-in", path("ec.key"), "-aes256", "-passout", "pass:secret", "-out",
                           path("encrypted.key")});
        REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
    ~Pki() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }

    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path(name)) << text;
    }
    std::string read(const std::string& name) const {
        std::ifstream in(path(name));
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    static std::vector<std::string> newkey(const std::string& type) {
        if (type == "rsa") return {"-newkey", "rsa:2048"};
        return {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"};
    }
    void make_ca(const std::string& name, const std::string& cn) const {
        std::vector<std::string> argv = {"openssl", "req", "-x509", "-new", "-nodes", "-config", path("req.cnf"),
                                         "-extensions", "ca", "-days", "30", "-subj", "/CN=" + cn,
                                         "-keyout", path(name + ".key"), "-out", path(name + ".pem")};
        auto key = newkey("ec");
        argv.insert(argv.begin() + 4, key.begin(), key.end());
        RunResult r = run(argv);
        REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
    void make_leaf(const std::string& name, const std::string& type, const std::string& cn, const std::string& sans,
                   const std::string& ca, int days, int serial) const {
        std::string ext = "[leaf]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage = serverAuth,clientAuth\nauthorityKeyIdentifier = keyid\n";
        if (!sans.empty()) ext += "subjectAltName = " + sans + "\n";
        write(name + ".ext", ext);
        std::vector<std::string> argv = {"openssl", "req", "-new", "-nodes", "-config", path("req.cnf"),
                                         "-subj", "/CN=" + cn, "-keyout", path(name + ".key"), "-out",
                                         path(name + ".csr")};
        auto key = newkey(type);
        argv.insert(argv.begin() + 3, key.begin(), key.end());
        RunResult r = run(argv);
        REQUIRE_MESSAGE(r.exit_code == 0, r.output);
        r = run({"openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey",
                 path(ca + ".key"), "-set_serial", std::to_string(serial), "-days", std::to_string(days), "-extfile",
                 path(name + ".ext"), "-extensions", "leaf", "-out", path(name + ".pem")});
        REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
};

const Pki& pki() {
    static Pki instance;
    return instance;
}

TlsCertificate cert(const std::string& name) {
    return {pki().path(name + ".pem"), pki().path(name + ".key")};
}

std::shared_ptr<TlsServerContext> build_server(const TlsServerSettings& settings) {
    auto built = TlsServerContext::build(settings);
    REQUIRE_MESSAGE(built.context, (built.error ? built.error->to_string() : std::string("no error?")));
    return built.context;
}

// ---- the test server ----

// What the server saw of one connection.
struct ServerRecord {
    bool ok = false;
    std::string error;  // handshake failure reasons
    std::string sni, alpn, cert_cn, key_type, version, cipher, peer;
    bool reused = false;
    bool peer_verified = false;

    std::string line() const {
        return "sni=" + sni + " alpn=" + alpn + " cert=" + cert_cn + " key=" + key_type + " version=" + version +
               " reused=" + (reused ? "1" : "0") + " peer=" + peer + "\n";
    }
};

class TestServer {
public:
    explicit TestServer(std::shared_ptr<TlsServerContext> context, int threads = 1) : context_(std::move(context)) {
        listen_.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        REQUIRE(listen_);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(listen_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(listen(listen_.get(), 64) == 0);
        socklen_t len = sizeof address;
        REQUIRE(getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&address), &len) == 0);
        port_ = ntohs(address.sin_port);
        int wake[2];
        REQUIRE(pipe2(wake, O_CLOEXEC) == 0);
        wake_read_.reset(wake[0]);
        wake_write_.reset(wake[1]);
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~TestServer() {
        (void)!write(wake_write_.get(), "x", 1);
        for (std::thread& thread : threads_) thread.join();
    }

    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

    // The record of the index-th connection, waiting for it up to the deadline.
    ServerRecord record(size_t index) {
        std::unique_lock<std::mutex> lock(mutex_);
        bool got = changed_.wait_for(lock, std::chrono::milliseconds(kDeadlineMs), [&] { return records_.size() > index; });
        REQUIRE_MESSAGE(got, "no record of connection " << index);
        return records_[index];
    }
    size_t record_count() {
        std::lock_guard<std::mutex> lock(mutex_);
        return records_.size();
    }

private:
    void loop() {
        for (;;) {
            pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
            if (poll(fds, 2, -1) < 0) continue;
            if (fds[1].revents != 0) return;
            // The listening socket is non-blocking so that the threads sharing it never block in
            // accept() after another one took the connection.
            UniqueFd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (fd) serve(fd.get());
        }
    }

    void serve(int fd) {
        timeval tv{10, 0};  // a client that stalls cannot hold the thread past its deadline
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ServerRecord record;
        SslPtr ssl = context_->new_session();
        REQUIRE(ssl);
        SSL_set_fd(ssl.get(), fd);
        ERR_clear_error();
        if (SSL_accept(ssl.get()) != 1) {
            record.error = take_tls_errors();
            if (record.error.empty()) record.error = "SSL_accept failed";
            push(record);
            return;
        }
        record.ok = true;
        record.sni = selected_server_name(ssl.get());
        record.alpn = negotiated_alpn(ssl.get());
        record.version = tls_version_name(ssl.get());
        record.cipher = SSL_get_cipher_name(ssl.get());
        record.reused = SSL_session_reused(ssl.get()) == 1;
        record.peer = peer_certificate_subject(ssl.get());
        record.peer_verified = peer_certificate_verified(ssl.get());
        if (X509* own = SSL_get_certificate(ssl.get())) {
            char cn[256] = "";
            X509_NAME_get_text_by_NID(X509_get_subject_name(own), NID_commonName, cn, sizeof cn);
            record.cert_cn = cn;
            int type = EVP_PKEY_get_base_id(X509_get0_pubkey(own));
            record.key_type = type == EVP_PKEY_EC ? "EC" : type == EVP_PKEY_RSA ? "RSA" : "other";
        }
        push(record);
        std::string line = record.line();
        SSL_write(ssl.get(), line.data(), static_cast<int>(line.size()));
        SSL_shutdown(ssl.get());  // close_notify, so s_client -ign_eof ends
        ERR_clear_error();
    }

    void push(const ServerRecord& record) {
        std::lock_guard<std::mutex> lock(mutex_);
        records_.push_back(record);
        changed_.notify_all();
    }

    std::shared_ptr<TlsServerContext> context_;
    UniqueFd listen_, wake_read_, wake_write_;
    uint16_t port_ = 0;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<ServerRecord> records_;
};

// openssl s_client against `server`; -ign_eof keeps it reading until the server closes, so
// that it sees the answer line and (TLS 1.3) the session tickets.
RunResult s_client(const TestServer& server, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"openssl", "s_client", "-connect", server.address(), "-ign_eof"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
}

// ---- the in-process client ----

struct SessionDeleter {
    void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionDeleter>;

struct ClientOutcome {
    bool ok = false;
    std::string error;   // handshake failure reasons
    std::string verify;  // verify_result_text()
    std::string line;    // the server's answer
    std::string alpn;
    bool reused = false;
    SessionPtr session;  // for resumption, after the answer (and any TLS 1.3 tickets) was read
};

ClientOutcome connect_with(const TlsClientContext& client, uint16_t port, std::string_view name,
                           SSL_SESSION* resume = nullptr) {
    ClientOutcome out;
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    timeval tv{10, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    SslPtr ssl = client.new_session(name);
    REQUIRE(ssl);
    SSL_set_fd(ssl.get(), fd.get());
    if (resume != nullptr) SSL_set_session(ssl.get(), resume);
    ERR_clear_error();
    if (SSL_connect(ssl.get()) != 1) {
        out.error = take_tls_errors();
        out.verify = verify_result_text(ssl.get());
        return out;
    }
    out.ok = true;
    out.verify = verify_result_text(ssl.get());
    out.alpn = negotiated_alpn(ssl.get());
    out.reused = SSL_session_reused(ssl.get()) == 1;
    char buf[512];
    for (;;) {
        int n = SSL_read(ssl.get(), buf, sizeof buf);
        if (n <= 0) break;
        out.line.append(buf, static_cast<size_t>(n));
    }
    // close_notify: OpenSSL marks the session of an SSL freed without it not resumable.
    SSL_shutdown(ssl.get());
    ERR_clear_error();
    out.session.reset(SSL_get1_session(ssl.get()));
    return out;
}

TlsServerSettings sni_settings() {
    TlsServerSettings settings;
    settings.certificates = {cert("default"), cert("ec"), cert("rsa")};
    return settings;
}

// ---- tests ----

TEST_CASE("a certificate or CA file that does not load is an error naming the file") {
    set_log_level(getenv("LBD_TEST_LOG_DEBUG") ? LogLevel::kDebug : LogLevel::kError);
    struct Case {
        const char* what;
        TlsServerSettings settings;
        TlsErrorKind kind;
        std::string file;
        const char* message;
    };
    auto with = [](std::vector<TlsCertificate> certs) {
        TlsServerSettings s;
        s.certificates = std::move(certs);
        return s;
    };
    TlsServerSettings ca_missing = with({cert("ec")});
    ca_missing.client_verify = TlsClientVerify::kRequired;
    ca_missing.client_ca_file = pki().path("nope-ca.pem");
    TlsServerSettings ca_not_pem = ca_missing;
    ca_not_pem.client_ca_file = pki().path("text.pem");
    TlsServerSettings ca_none = with({cert("ec")});
    ca_none.client_verify = TlsClientVerify::kOptional;
    TlsServerSettings bad_ciphers = with({cert("ec")});
    bad_ciphers.ciphers = "NOT-A-CIPHER";
    TlsServerSettings bad_suites = with({cert("ec")});
    bad_suites.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_512_MADE_UP";
    TlsServerSettings bad_alpn = with({cert("ec")});
    bad_alpn.alpn = {"http/1.1", ""};

    const std::vector<Case> cases = {
        {"missing certificate file", with({{pki().path("nope.pem"), pki().path("ec.key")}}),
         TlsErrorKind::kCertificate, pki().path("nope.pem"), "No such file or directory"},
        {"PEM block that is not a certificate", with({{pki().path("garbage.pem"), pki().path("ec.key")}}),
         TlsErrorKind::kCertificate, pki().path("garbage.pem"), "no PEM certificate"},
        {"not PEM at all", with({{pki().path("text.pem"), pki().path("ec.key")}}), TlsErrorKind::kCertificate,
         pki().path("text.pem"), "no PEM certificate"},
        {"bad chain after the leaf", with({{pki().path("bad_chain.pem"), pki().path("ec.key")}}),
         TlsErrorKind::kCertificate, pki().path("bad_chain.pem"), "bad PEM certificate after the first"},
        {"missing key file", with({{pki().path("ec.pem"), pki().path("nope.key")}}), TlsErrorKind::kPrivateKey,
         pki().path("nope.key"), "No such file or directory"},
        {"key file without a key", with({{pki().path("ec.pem"), pki().path("text.pem")}}), TlsErrorKind::kPrivateKey,
         pki().path("text.pem"), "no PEM private key"},
        {"encrypted key", with({{pki().path("ec.pem"), pki().path("encrypted.key")}}), TlsErrorKind::kPrivateKey,
         pki().path("encrypted.key"), "encrypted"},
        {"key of another certificate", with({{pki().path("ec.pem"), pki().path("default.key")}}),
         TlsErrorKind::kKeyMismatch, pki().path("default.key"), "does not match certificate"},
        {"RSA key for an EC certificate", with({cert("default"), {pki().path("ec.pem"), pki().path("rsa.key")}}),
         TlsErrorKind::kKeyMismatch, pki().path("rsa.key"), "does not match certificate"},
        {"missing client CA file", ca_missing, TlsErrorKind::kCaFile, pki().path("nope-ca.pem"),
         "No such file or directory"},
        {"client CA file without a certificate", ca_not_pem, TlsErrorKind::kCaFile, pki().path("text.pem"),
         "no CA certificate"},
        {"client verification without a CA file", ca_none, TlsErrorKind::kSettings, "client_ca_file", "CA file"},
        {"no certificate at all", with({}), TlsErrorKind::kSettings, "certificates", "needs a certificate"},
        {"cipher list that selects nothing", bad_ciphers, TlsErrorKind::kCiphers, "ciphers", "NOT-A-CIPHER"},
        {"unknown TLS 1.3 suite", bad_suites, TlsErrorKind::kCiphersuites, "ciphersuites", "TLS_AES_512_MADE_UP"},
        {"empty ALPN name", bad_alpn, TlsErrorKind::kAlpn, "alpn", "1..255"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        auto built = TlsServerContext::build(c.settings);
        CHECK_FALSE(built.context);
        REQUIRE(built.error);
        CAPTURE(built.error->to_string());
        CHECK(built.error->kind == c.kind);
        CHECK(built.error->file == c.file);
        CHECK(contains(built.error->message, c.message));
        CHECK(contains(built.error->to_string(), c.file));
    }

    // The client side names its files the same way.
    TlsClientSettings client;
    client.ca_file = pki().path("nope-ca.pem");
    auto built = TlsClientContext::build(client);
    CHECK_FALSE(built.context);
    REQUIRE(built.error);
    CHECK(built.error->file == client.ca_file);
    client.ca_file = pki().path("ca.pem");
    client.client_certificate = {pki().path("client.pem"), pki().path("ec.key")};
    built = TlsClientContext::build(client);
    REQUIRE(built.error);
    CHECK(built.error->kind == TlsErrorKind::kKeyMismatch);
    CHECK(built.error->file == pki().path("ec.key"));
    CHECK(ERR_peek_error() == 0);  // the builders leave no stale errors behind on this thread
}

TEST_CASE("an expired certificate loads, with a warning naming the file") {
    TlsServerSettings settings;
    settings.certificates = {cert("expired")};
    auto built = TlsServerContext::build(settings);
    REQUIRE(built.context);
    REQUIRE(built.warnings.size() == 1);
    CHECK(built.warnings[0].file == pki().path("expired.pem"));
    CHECK(contains(built.warnings[0].message, "expired on"));

    TestServer server(built.context);
    RunResult r = s_client(server, {"-servername", "old.example.test"});
    CHECK(contains(r.output, "cert=old.example.test"));
}

TEST_CASE("SNI picks the certificate: exact name, one-label wildcard, else the default") {
    auto context = build_server(sni_settings());
    // {default}, {ec, rsa} for a.example.test, {ec} for *.wild.example.test.
    CHECK(context->ssl_ctx_count() == 3);
    TestServer server(context);
    struct Case {
        std::vector<std::string> args;
        std::string cert;
        std::string sni;
    };
    const std::vector<Case> cases = {
        {{"-servername", "a.example.test"}, "a.example.test", "a.example.test"},
        {{"-servername", "A.Example.TEST"}, "a.example.test", "A.Example.TEST"},  // DNS names are case-blind
        {{"-servername", "x.wild.example.test"}, "a.example.test", "x.wild.example.test"},
        {{"-servername", "y.x.wild.example.test"}, "default.example.test", "y.x.wild.example.test"},  // two labels
        {{"-servername", "wild.example.test"}, "default.example.test", "wild.example.test"},  // no label
        {{"-servername", "unknown.example.test"}, "default.example.test", "unknown.example.test"},
        {{"-noservername"}, "default.example.test", ""},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(cases[i].args[cases[i].args.size() - 1]);
        RunResult r = s_client(server, cases[i].args);
        CAPTURE(r.output);
        ServerRecord record = server.record(i);
        CHECK(record.ok);
        CHECK(record.cert_cn == cases[i].cert);
        CHECK(record.sni == cases[i].sni);
        CHECK(contains(r.output, "subject=CN = " + cases[i].cert));
        CHECK(contains(r.output, "cert=" + cases[i].cert));
    }
}

TEST_CASE("a certificate without subjectAltName serves its CN") {
    TlsServerSettings settings;
    settings.certificates = {cert("default"), cert("cn_only")};
    TestServer server(build_server(settings));
    RunResult r = s_client(server, {"-servername", "cn.example.test"});
    CAPTURE(r.output);
    CHECK(server.record(0).cert_cn == "cn.example.test");
}

TEST_CASE("ECDSA and RSA for one name: the client's signature algorithms pick") {
    TestServer server(build_server(sni_settings()));
    struct Case {
        std::vector<std::string> args;
        const char* key;
    };
    const std::vector<Case> cases = {
        {{"-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"}, "EC"},
        {{"-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"}, "RSA"},
        {{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, "EC"},
        {{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, "RSA"},
        {{"-tls1_3"}, "EC"},  // both offered: OpenSSL prefers ECDSA
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        std::vector<std::string> args = {"-servername", "a.example.test"};
        args.insert(args.end(), cases[i].args.begin(), cases[i].args.end());
        CAPTURE(args[args.size() - 1]);
        RunResult r = s_client(server, args);
        CAPTURE(r.output);
        ServerRecord record = server.record(i);
        CHECK(record.ok);
        CHECK(record.cert_cn == "a.example.test");
        CHECK(record.key_type == cases[i].key);
        CHECK(contains(r.output, std::string("key=") + cases[i].key));
    }
    // A name only the ECDSA certificate serves: an RSA-only client is refused, not given RSA
    // for the wrong name.
    RunResult r = s_client(server, {"-servername", "x.wild.example.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"});
    CHECK_FALSE(server.record(cases.size()).ok);
    CHECK(r.exit_code != 0);
}

TEST_CASE("TLS 1.2 and 1.3 only by default; the minimum is configurable") {
    TestServer server(build_server(sni_settings()));
    // The client is allowed to offer TLS 1.1 (its own default security level forbids it).
    RunResult r = s_client(server, {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"});
    CAPTURE(r.output);
    ServerRecord record = server.record(0);
    CHECK_FALSE(record.ok);
    CHECK(contains(record.error, "unsupported protocol"));
    CHECK(contains(r.output, "alert protocol version"));
    r = s_client(server, {"-tls1_2"});
    CHECK(server.record(1).version == "TLSv1.2");
    r = s_client(server, {"-tls1_3"});
    CHECK(server.record(2).version == "TLSv1.3");
    CHECK(contains(r.output, "version=TLSv1.3"));

    TlsServerSettings only13 = sni_settings();
    only13.min_version = TlsVersion::kTls13;
    TestServer strict(build_server(only13));
    r = s_client(strict, {"-tls1_2"});
    CHECK_FALSE(strict.record(0).ok);
    r = s_client(strict, {});
    CHECK(strict.record(1).version == "TLSv1.3");
}

TEST_CASE("the TLS 1.2 cipher list and the TLS 1.3 suites are applied") {
    TlsServerSettings settings = sni_settings();
    settings.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
    settings.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
    TestServer server(build_server(settings));
    s_client(server, {"-tls1_2"});
    CHECK(server.record(0).cipher == "ECDHE-ECDSA-AES256-GCM-SHA384");
    s_client(server, {"-tls1_3"});
    CHECK(server.record(1).cipher == "TLS_CHACHA20_POLY1305_SHA256");
    s_client(server, {"-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"});
    CHECK_FALSE(server.record(2).ok);
    s_client(server, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"});
    CHECK_FALSE(server.record(3).ok);
}

TEST_CASE("ALPN: our list in our order, the agreed protocol exposed, no overlap refused") {
    TlsServerSettings settings = sni_settings();
    settings.alpn = {"h2", "http/1.1"};
    TestServer server(build_server(settings));
    RunResult r = s_client(server, {"-alpn", "http/1.1"});
    CHECK(server.record(0).alpn == "http/1.1");
    CHECK(contains(r.output, "ALPN protocol: http/1.1"));
    r = s_client(server, {"-alpn", "http/1.1,h2"});
    CHECK(server.record(1).alpn == "h2");  // the server's preference wins
    r = s_client(server, {});
    CHECK(server.record(2).ok);
    CHECK(server.record(2).alpn.empty());  // no ALPN offered: none agreed, handshake fine
    r = s_client(server, {"-alpn", "spdy/3"});
    CHECK_FALSE(server.record(3).ok);
    CHECK(contains(r.output, "no application protocol"));

    // The default settings offer http/1.1 only.
    TestServer plain(build_server(sni_settings()));
    r = s_client(plain, {"-alpn", "h2,http/1.1"});
    CHECK(plain.record(0).alpn == "http/1.1");
}

// Resumes with s_client's session files, across one rotation, and then past the old key's life.
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
    for (const char* version : {"-tls1_3", "-tls1_2"}) {
        CAPTURE(version);
        TlsServerSettings settings = sni_settings();
        settings.session_tickets = false;
        auto context = build_server(settings);
        TestServer server(context);
        std::string file = pki().path(std::string("cache") + version);
        RunResult r = s_client(server, {version, "-sess_out", file});
        CHECK(contains(r.output, "New, TLS"));
        r = s_client(server, {version, "-sess_in", file});
        CAPTURE(r.output);
        CHECK(contains(r.output, "Reused, TLS"));
        CHECK(server.record(1).reused);
        CHECK(context->ticket_stats().issued == 0);
        CHECK(SSL_CTX_sess_hits(context->ctx()) == 1);

        settings.session_cache_size = 0;
        TestServer uncached(build_server(settings));
        r = s_client(uncached, {version, "-sess_out", file});
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
}  // namespace lbd::l7
