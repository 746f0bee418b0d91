// The "http" probe: one HTTP/1.1 request with `Connection: close`; healthy
// when the status is in expect_status and the body (if asked) holds
// body_contains. Like HAProxy's http-check it needs only the status line
// and a bounded body, so it reads at most kMaxResponse bytes and reads
// framing only as far as it must: it decides as soon as it can (status
// alone, or the substring seen), else at EOF, at the cap, at Content-Length
// bytes of body, or at the last chunk. A chunked body is searched
// de-chunked (a word may straddle two chunks); the chunk syntax is not
// checked beyond what de-chunking needs (the L7 parser is l7's, and core
// does not depend on it).
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "core/health_probe.h"

namespace lbd {

namespace {

constexpr size_t kMaxResponse = 64 * 1024;

class HttpProbe final : public Probe {
public:
    HttpProbe(event_base* base, const HttpCheckConfig& config) : base_(base), config_(config) {}

    std::optional<LocalCause> local_failure() const override { return socket_.local_failure(); }

    void start(const SocketAddress& address, Done done) override {
        done_ = std::move(done);
        request_ = build_request(address);
        socket_.connect(base_, address, [this](bool ok, const char* why) {
            if (!ok) return finish(false, why);
            io_ = make_event(base_, socket_.fd(), EV_WRITE | EV_READ | EV_PERSIST, &HttpProbe::on_io, this);
            event_add(io_.get(), nullptr);
        });
    }

private:
    std::string build_request(const SocketAddress& address) const {
        std::string host = config_.host.empty() ? address.to_string() : config_.host;
        std::string out = config_.method + " " + config_.path + " HTTP/1.1\r\nHost: " + host + "\r\n";
        for (const HttpHeaderValue& h : config_.headers) out += h.name + ": " + h.value + "\r\n";
        out += "User-Agent: lbd-health-check\r\nConnection: close\r\n\r\n";
        return out;
    }

    static void on_io(evutil_socket_t, short what, void* arg) {
        auto* self = static_cast<HttpProbe*>(arg);
        if ((what & EV_WRITE) && !self->write_some()) return;
        if (what & EV_READ) self->read_some();
    }

    bool write_some() {
        ssize_t n = send(socket_.fd(), request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            finish(false, strerror(errno));
            return false;
        }
        sent_ += static_cast<size_t>(n);
        if (sent_ == request_.size()) {  // now only wait for the answer
            io_ = make_event(base_, socket_.fd(), EV_READ | EV_PERSIST, &HttpProbe::on_io, this);
            event_add(io_.get(), nullptr);
        }
        return true;
    }

    void read_some() {
        char buf[16 * 1024];
        const size_t room = kMaxResponse - response_.size();
        ssize_t n = recv(socket_.fd(), buf, std::min(room, sizeof buf), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            return finish(false, strerror(errno));
        }
        response_.append(buf, static_cast<size_t>(n));
        const bool eof = n == 0 || response_.size() == kMaxResponse;
        evaluate(eof);
    }

    // Decides when the response allows it; waits for more otherwise.
    void evaluate(bool eof) {
        const size_t line_end = response_.find("\r\n");
        if (line_end == std::string::npos) {
            if (eof) finish(false, response_.empty() ? "closed without a response" : "bad status line");
            return;
        }
        if (status_ == 0) {
            // "HTTP/1.x SSS reason": the code is the three digits after the first space.
            int status = 0;
            if (response_.compare(0, 5, "HTTP/") != 0 || std::sscanf(response_.c_str(), "HTTP/%*s %3d", &status) != 1 ||
                status < 100 || status > 599)
                return finish(false, "bad status line");
            status_ = status;
            char why[32];
            std::snprintf(why, sizeof why, "HTTP %d", status_);
            if (!config_.expect_status.contains(status_)) return finish(false, why);
            if (config_.body_contains.empty()) return finish(true, why);
        }
        const size_t head_end = response_.find("\r\n\r\n");
        if (head_end != std::string::npos) {
            const std::string_view head = std::string_view(response_).substr(0, head_end);
            std::string_view body = std::string_view(response_).substr(head_end + 4);
            std::string decoded;
            bool last_chunk = false;
            const bool chunked = field_value(head, "transfer-encoding:").find("chunked") != std::string_view::npos;
            if (chunked) body = decoded = dechunk(body, &last_chunk);
            if (body.find(config_.body_contains) != std::string_view::npos) {
                char why[48];
                std::snprintf(why, sizeof why, "HTTP %d, body matches", status_);
                return finish(true, why);
            }
            if (chunked) {
                eof = eof || last_chunk;
            } else if (const std::string_view length = field_value(head, "content-length:"); !length.empty()) {
                eof = eof || body.size() >= std::strtoull(std::string(length).c_str(), nullptr, 10);
            }
        }
        if (eof) finish(false, "body lacks '" + config_.body_contains.substr(0, 64) + "'");
    }

    // The value of the first field called `name` (lower case, with its colon), up to the line's
    // end and with leading blanks skipped; empty if there is none.
    static std::string_view field_value(std::string_view head, std::string_view name) {
        size_t at = 0;
        while ((at = head.find("\r\n", at)) != std::string_view::npos) {
            at += 2;
            if (head.size() - at < name.size() || strncasecmp(head.data() + at, name.data(), name.size()) != 0) continue;
            std::string_view value = head.substr(at + name.size());
            value = value.substr(0, value.find("\r\n"));
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
            return value;
        }
        return {};
    }

    // The chunks' data, as far as whole chunks have come; `last` set once the zero-size chunk is
    // seen (trailers are not waited for: nothing here reads them).
    static std::string dechunk(std::string_view body, bool* last) {
        std::string out;
        for (;;) {
            const size_t line_end = body.find("\r\n");
            if (line_end == std::string_view::npos) return out;
            char* end = nullptr;
            const std::string size_line(body.substr(0, line_end));
            const unsigned long long size = std::strtoull(size_line.c_str(), &end, 16);
            if (end == size_line.c_str()) return out;  // not a chunk size: searched as far as it went
            if (size == 0) {
                *last = true;
                return out;
            }
            body.remove_prefix(line_end + 2);
            if (body.size() < size + 2) {
                out.append(body.substr(0, std::min<size_t>(body.size(), size)));  // the part come so far
                return out;
            }
            out.append(body.substr(0, size));
            body.remove_prefix(size + 2);
        }
    }

    void finish(bool ok, std::string_view why) {
        io_.reset();
        socket_.close();
        if (done_) std::exchange(done_, nullptr)(ok, why);
    }

    event_base* base_;
    const HttpCheckConfig& config_;
    ProbeSocket socket_;
    EventPtr io_;
    Done done_;
    std::string request_;
    size_t sent_ = 0;
    std::string response_;
    int status_ = 0;
};

}  // namespace

void register_http_probe() {
    ProbeRegistry::add("http", [](event_base* base, const HealthCheckConfig& config) -> std::unique_ptr<Probe> {
        return std::make_unique<HttpProbe>(base, config.http);
    });
}

}  // namespace lbd
