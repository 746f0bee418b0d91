// The kit of the TLS context tests (tls_*_test.cc): certificates made once per run with the
// openssl CLI (Pki), a TestServer running TlsServerContext in threads on 127.0.0.1:0 that answers
// what was negotiated as one line, `openssl s_client` as a separate process, and an in-process
// client through TlsClientContext.
//
// Nothing sleeps: a server record is waited for on a condition variable with a deadline, and
// every socket and child process has a deadline that only decides failure.
#pragma once

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

#include "core/loop/event.h"
#include "core/base/log.h"
#include "l7/tls/tls_context.h"

extern char** environ;

namespace lbd::l7::test {

inline constexpr int kDeadlineMs = 20000;
// Making the certificates: an RSA 2048 key search at nice 19 beside busy cores (CI, and the loaded
// runs tests must pass) took over 20 s, and every test case after it then failed making them again.
inline constexpr int kCertificateDeadlineMs = 120000;

inline bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// ---- child processes ----

struct RunResult {
    int exit_code = -1;  // -1: killed, or did not start
    std::string output;  // stdout and stderr together
};

// Runs argv (PATH lookup) with stdin from /dev/null; kills it if it outlives the deadline.
inline RunResult run(const std::vector<std::string>& argv, int deadline_ms = kDeadlineMs) {
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
    // ip:       EC P-256, SAN IP 127.0.0.1 (a server checked by its address)
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
        make_leaf("ip", "ec", "127.0.0.1", "IP:127.0.0.1", "ca", 30, 10);
        write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        write("text.pem", "hello, I am not PEM\n");
        // The EC leaf followed by a broken second block: a bad chain.
        write("bad_chain.pem", read("ec.pem") + "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
        RunResult r = run({"openssl", "pkey", "-in", path("ec.key"), "-aes256", "-passout", "pass:secret", "-out",
                           path("encrypted.key")},
                          kCertificateDeadlineMs);
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
        RunResult r = run(argv, kCertificateDeadlineMs);
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
        RunResult r = run(argv, kCertificateDeadlineMs);
        REQUIRE_MESSAGE(r.exit_code == 0, r.output);
        r = run({"openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey",
                 path(ca + ".key"), "-set_serial", std::to_string(serial), "-days", std::to_string(days), "-extfile",
                 path(name + ".ext"), "-extensions", "leaf", "-out", path(name + ".pem")},
                kCertificateDeadlineMs);
        REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
};

inline const Pki& pki() {
    static Pki instance;
    return instance;
}

inline TlsCertificate cert(const std::string& name) {
    return {pki().path(name + ".pem"), pki().path(name + ".key")};
}

inline std::shared_ptr<TlsServerContext> build_server(const TlsServerSettings& settings) {
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
inline RunResult s_client(const TestServer& server, std::vector<std::string> extra) {
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

inline ClientOutcome connect_with(const TlsClientContext& client, uint16_t port, std::string_view name,
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

inline TlsServerSettings sni_settings() {
    TlsServerSettings settings;
    settings.certificates = {cert("default"), cert("ec"), cert("rsa")};
    return settings;
}


}  // namespace lbd::l7::test
