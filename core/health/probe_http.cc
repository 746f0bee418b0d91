// The "http" probe: one HTTP/1.1 request with `Connection: close`; healthy
// when the status is in expect_status and the body (if asked) holds
// body_contains. This file is the socket; what the answer means, read with
// the proxy's HTTP/1 grammar, is http_check_reader.h's.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "core/health/health_probe.h"
#include "core/health/http_check_reader.h"

namespace lbd {

namespace {

class HttpProbe final : public Probe {
public:
    HttpProbe(event_base* base, const HttpCheckConfig& config) : base_(base), config_(config), reader_(config) {}

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
        ssize_t n = recv(socket_.fd(), buf, std::min(reader_.room(), sizeof buf), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            return finish(false, strerror(errno));
        }
        const HttpCheckVerdict& verdict = reader_.feed(std::string_view(buf, static_cast<size_t>(n)), n == 0);
        if (verdict.decided()) finish(verdict.state == HttpCheckVerdict::State::kHealthy, verdict.why);
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
    HttpCheckReader reader_;
};

}  // namespace

void register_http_probe() {
    ProbeRegistry::add("http", [](event_base* base, const HealthCheckConfig& config) -> std::unique_ptr<Probe> {
        return std::make_unique<HttpProbe>(base, config.http);
    });
}

}  // namespace lbd
