// The "tcp" probe: healthy when a TCP connect to the server succeeds.
#include "core/health/health_probe.h"

namespace lbd {

namespace {

class TcpProbe final : public Probe {
public:
    explicit TcpProbe(event_base* base) : base_(base) {}

    void start(const SocketAddress& address, Done done) override {
        socket_.connect(base_, address, [this, done = std::move(done)](bool ok, const char* why) {
            socket_.close();
            done(ok, ok ? "connect succeeded" : why);
        });
    }

    std::optional<LocalCause> local_failure() const override { return socket_.local_failure(); }

private:
    event_base* base_;
    ProbeSocket socket_;
};

}  // namespace

void register_tcp_probe() {
    ProbeRegistry::add("tcp", [](event_base* base, const HealthCheckConfig&) -> std::unique_ptr<Probe> {
        return std::make_unique<TcpProbe>(base);
    });
}

}  // namespace lbd
