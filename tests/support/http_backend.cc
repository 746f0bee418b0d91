#include "tests/support/http_backend.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

#include "tests/support/net.h"

namespace lbd::test {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Blocking reads from one connection with a carry-over buffer.
class Reader {
public:
    explicit Reader(int fd) : fd_(fd) {}
    // Reads until `buf_` holds `n` bytes. False on EOF/error.
    bool fill(size_t n) {
        while (buf_.size() < n) {
            char chunk[65536];
            ssize_t got = recv(fd_, chunk, sizeof chunk, 0);
            if (got <= 0) return false;
            buf_.append(chunk, static_cast<size_t>(got));
        }
        return true;
    }
    std::optional<std::string> until(const std::string& delimiter) {
        for (;;) {
            size_t at = buf_.find(delimiter);
            if (at != std::string::npos) {
                std::string out = buf_.substr(0, at + delimiter.size());
                buf_.erase(0, at + delimiter.size());
                return out;
            }
            if (!fill(buf_.size() + 1)) return std::nullopt;
        }
    }
    std::optional<std::string> take(size_t n) {
        if (!fill(n)) return std::nullopt;
        std::string out = buf_.substr(0, n);
        buf_.erase(0, n);
        return out;
    }
    // Reads and drops n bytes without keeping them.
    bool skip(uint64_t n) {
        while (n > 0) {
            if (buf_.empty() && !fill(1)) return false;
            size_t k = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
            buf_.erase(0, k);
            n -= k;
        }
        return true;
    }

private:
    int fd_;
    std::string buf_;
};

// A field value from a head (first match, case-insensitive), or "".
std::string field(const std::string& head, const std::string& name) {
    std::string lowered = lower(head);
    size_t at = lowered.find("\r\n" + lower(name) + ":");
    if (at == std::string::npos) return "";
    size_t start = at + 3 + name.size();
    size_t end = head.find("\r\n", start);
    std::string value = head.substr(start, end - start);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    return value;
}

bool send_bytes(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

std::string websocket_accept(const std::string& key) {
    std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
    unsigned char out[64];
    int n = EVP_EncodeBlock(out, digest, static_cast<int>(len));
    return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// RFC 6455 §5.2: echoes each frame (unmasked, as a server must) until a close frame.
void websocket_echo(int fd, Reader& reader) {
    for (;;) {
        auto hdr = reader.take(2);
        if (!hdr) return;
        uint8_t b0 = static_cast<uint8_t>((*hdr)[0]), b1 = static_cast<uint8_t>((*hdr)[1]);
        uint64_t len = b1 & 0x7f;
        if (len == 126) {
            auto ext = reader.take(2);
            if (!ext) return;
            len = (uint64_t(uint8_t((*ext)[0])) << 8) | uint8_t((*ext)[1]);
        } else if (len == 127) {  // a large message (WebSocket over HTTP/2's flow-control test)
            auto ext = reader.take(8);
            if (!ext) return;
            len = 0;
            for (char c : *ext) len = (len << 8) | uint8_t(c);
        }
        std::string mask;
        if (b1 & 0x80) {
            auto m = reader.take(4);
            if (!m) return;
            mask = *m;
        }
        auto payload = reader.take(static_cast<size_t>(len));
        if (!payload) return;
        for (size_t i = 0; i < payload->size() && !mask.empty(); ++i) (*payload)[i] ^= mask[i % 4];
        std::string frame;
        frame += static_cast<char>(b0);
        if (len < 126) {
            frame += static_cast<char>(len);
        } else if (len > 0xffff) {
            frame += static_cast<char>(127);
            for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((len >> shift) & 0xff);
        } else {
            frame += static_cast<char>(126);
            frame += static_cast<char>(len >> 8);
            frame += static_cast<char>(len & 0xff);
        }
        frame += *payload;
        if (!send_bytes(fd, frame) || (b0 & 0x0f) == 0x8) return;
    }
}

}  // namespace

HttpBackend::HttpBackend(std::string name) : name_(std::move(name)) {
    listen_fd_ = listen_tcp(0);
    port_ = listen_fd_ ? local_port(listen_fd_.get()) : 0;
    if (port_ != 0) acceptor_ = std::thread([this] { accept_loop(); });
}

HttpBackend::HttpBackend(std::string name, const char* ip, uint16_t port) : name_(std::move(name)) {
    listen_fd_ = listen_tcp_on(ip, port);
    port_ = listen_fd_ ? local_port(listen_fd_.get()) : 0;
    if (port_ != 0) acceptor_ = std::thread([this] { accept_loop(); });
}

HttpBackend::~HttpBackend() { stop(); }

std::vector<std::string> HttpBackend::heads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
}

std::vector<std::string> HttpBackend::trailers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return trailers_;
}

void HttpBackend::answer(const std::string& path, int status, const std::string& body, const std::string& headers) {
    std::lock_guard<std::mutex> lock(mu_);
    canned_[path] = Canned{status, body, headers};
}

void HttpBackend::forget(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    canned_.erase(path);
}

void HttpBackend::stop() {
    if (stopping_.exchange(true)) return;
    if (listen_fd_) shutdown(listen_fd_.get(), SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
        threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
    listen_fd_.reset();
}

void HttpBackend::accept_loop() {
    for (;;) {
        int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) {
            close(fd);
            return;
        }
        connections_++;
        open_fds_.push_back(fd);
        conn_threads_.emplace_back([this, fd] {
            serve(fd);
            ended_++;
        });
    }
}

void HttpBackend::serve(int fd) {
    Reader reader(fd);
    for (;;) {
        auto head = reader.until("\r\n\r\n");
        if (!head) break;
        requests_++;
        {
            std::lock_guard<std::mutex> lock(mu_);
            heads_.push_back(*head);
        }
        std::string request_line = head->substr(0, head->find("\r\n"));
        std::string path = request_line.substr(request_line.find(' ') + 1);
        path = path.substr(0, path.find(' '));
        const bool head_method = request_line.rfind("HEAD ", 0) == 0;
        // The body: counted, not kept.
        uint64_t body_bytes = 0;
        if (lower(field(*head, "transfer-encoding")).find("chunked") != std::string::npos) {
            for (;;) {
                auto line = reader.until("\r\n");
                if (!line) return;
                uint64_t size = std::strtoull(line->c_str(), nullptr, 16);
                if (size == 0) {
                    std::string trailers;
                    for (;;) {
                        auto field = reader.until("\r\n");
                        if (!field) return;
                        if (field->size() == 2) break;  // the empty line that ends the trailer section
                        trailers += *field;
                    }
                    if (!trailers.empty()) {
                        std::lock_guard<std::mutex> lock(mu_);
                        trailers_.push_back(trailers);
                    }
                    break;
                }
                if (!reader.skip(size + 2)) return;
                body_bytes += size;
            }
        } else if (std::string cl = field(*head, "content-length"); !cl.empty()) {
            if (lower(field(*head, "expect")) == "100-continue" && !send_bytes(fd, "HTTP/1.1 100 Continue\r\n\r\n"))
                break;
            body_bytes = std::strtoull(cl.c_str(), nullptr, 10);
            if (!reader.skip(body_bytes)) break;
        }
        if (path == "/hang") {
            while (reader.skip(1)) {
            }
            break;
        }
        if (path == "/stall") {  // a head, 10 of 100 body bytes, then nothing until the peer closes
            if (!send_bytes(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")) break;
            while (reader.skip(1)) {
            }
            break;
        }
        if (path == "/die") {
            linger lin{1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
            break;
        }
        if (path == "/malformed") {
            send_bytes(fd, "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
            break;
        }
        if (path == "/ws" && lower(field(*head, "upgrade")) == "websocket") {
            std::string accept = websocket_accept(field(*head, "sec-websocket-key"));
            if (!send_bytes(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: " + accept + "\r\n\r\n"))
                break;
            websocket_echo(fd, reader);
            break;
        }
        const bool close_after = lower(field(*head, "connection")) == "close";
        std::optional<Canned> canned;
        {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = canned_.find(path);
            if (it == canned_.end()) it = canned_.find("*");
            if (it != canned_.end()) canned = it->second;
        }
        if (canned) {
            std::string response = "HTTP/1.1 " + std::to_string(canned->status) + " Canned\r\nServer: test-backend\r\n" +
                                   canned->headers + "Content-Type: text/plain\r\nContent-Length: " +
                                   std::to_string(canned->body.size()) + "\r\n\r\n" + (head_method ? "" : canned->body);
            if (!send_bytes(fd, response) || close_after) break;
            continue;
        }
        if (path.rfind("/bytes/", 0) == 0) {  // a large response: N bytes of 'x', sent in 64 KiB pieces
            uint64_t left = std::strtoull(path.c_str() + 7, nullptr, 10);
            if (!send_bytes(fd, "HTTP/1.1 200 OK\r\nServer: test-backend\r\nContent-Length: " + std::to_string(left) +
                                    "\r\n\r\n"))
                break;
            const std::string piece(64 * 1024, 'x');
            while (left > 0 && !head_method) {
                size_t n = static_cast<size_t>(std::min<uint64_t>(left, piece.size()));
                if (!send_bytes(fd, piece.substr(0, n))) break;
                left -= n;
            }
            if (left > 0 && !head_method) break;
            continue;
        }
        std::string body = "server=" + name_ + "\n" + *head + "body_bytes=" + std::to_string(body_bytes) + "\n";
        std::string response = "HTTP/1.1 200 OK\r\nServer: test-backend\r\nX-Powered-By: test\r\n"
                               "Content-Type: text/plain\r\n";
        response += close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n";
        // The application's own session cookie, new on every /login (cookie LEARN stickiness).
        if (path == "/login")
            response += "Set-Cookie: JSESSIONID=" + name_ + "-" + std::to_string(requests_.load()) + "; Path=/\r\n";
        if (path == "/chunked") {
            response += "Transfer-Encoding: chunked\r\n\r\n";
            // Small chunks, so that the body's words straddle chunk boundaries.
            for (size_t at = 0; at < body.size() && !head_method; at += 7) {
                const std::string piece = body.substr(at, 7);
                char size[32];
                std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
                response += std::string(size) + piece + "\r\n";
            }
            if (!head_method) response += "0\r\n\r\n";
        } else {
            response += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
            if (!head_method) response += body;
        }
        if (!send_bytes(fd, response) || close_after) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    close(fd);
}

std::string HttpReply::header(const std::string& name) const { return field(head, name); }

std::optional<HttpReply> read_http_reply(int fd, int timeout_ms, bool head_request) {
    Deadline deadline(timeout_ms);
    std::string buf;
    HttpReply reply;
    bool eof = false;
    auto more = [&]() {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, deadline.remaining_ms()) <= 0) return false;
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            eof = true;
            return false;
        }
        buf.append(chunk, static_cast<size_t>(n));
        return true;
    };
    // One byte at a time would be exact; instead keep what follows the reply in `buf` and
    // accept that pipelined replies are read by a single call each (the tests read them so).
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos)
        if (!more()) return std::nullopt;
    reply.head = buf.substr(0, head_end + 4);
    buf.erase(0, head_end + 4);
    reply.status = std::atoi(reply.head.c_str() + 9);
    const bool no_body = head_request || reply.status == 204 || reply.status == 304 || reply.status / 100 == 1;
    if (no_body) {
        // nothing
    } else if (lower(reply.header("transfer-encoding")).find("chunked") != std::string::npos) {
        for (;;) {
            size_t eol;
            while ((eol = buf.find("\r\n")) == std::string::npos)
                if (!more()) return std::nullopt;
            uint64_t size = std::strtoull(buf.c_str(), nullptr, 16);
            buf.erase(0, eol + 2);
            if (size == 0) {
                while (buf.find("\r\n") == std::string::npos)
                    if (!more()) return std::nullopt;
                buf.erase(0, buf.find("\r\n") + 2);
                break;
            }
            while (buf.size() < size + 2)
                if (!more()) return std::nullopt;
            reply.body += buf.substr(0, size);
            buf.erase(0, size + 2);
        }
    } else if (std::string cl = reply.header("content-length"); !cl.empty()) {
        size_t n = std::strtoull(cl.c_str(), nullptr, 10);
        while (buf.size() < n)
            if (!more()) return std::nullopt;
        reply.body = buf.substr(0, n);
    } else {
        while (more()) {
        }
        if (!eof) return std::nullopt;
        reply.body = buf;
    }
    reply.closed = eof || lower(reply.header("connection")) == "close";
    return reply;
}

std::optional<HttpReply> http_request(uint16_t port, const std::string& request, int timeout_ms) {
    UniqueFd fd = connect_tcp(port, timeout_ms);
    if (!fd || !send_all(fd.get(), request, timeout_ms)) return std::nullopt;
    return read_http_reply(fd.get(), timeout_ms, request.rfind("HEAD ", 0) == 0);
}

std::string get_request(const std::string& path, const std::string& host, const std::string& extra) {
    return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n";
}

size_t rss_kib(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
    return 0;
}

}  // namespace lbd::test
