#include "core/health/health_probe.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace lbd {

namespace {

std::map<std::string, ProbeFactory, std::less<>>& registry() {
    static std::map<std::string, ProbeFactory, std::less<>> factories;
    return factories;
}

}  // namespace

void ProbeRegistry::add(std::string name, ProbeFactory factory) { registry()[std::move(name)] = factory; }

std::unique_ptr<Probe> ProbeRegistry::create(std::string_view name, event_base* base,
                                             const HealthCheckConfig& config) {
    auto it = registry().find(name);
    return it == registry().end() ? nullptr : it->second(base, config);
}

void register_builtin_probes() {
    register_tcp_probe();
    register_http_probe();
}

void ProbeSocket::connect(event_base* base, const SocketAddress& address,
                          std::function<void(bool, const char*)> on_connected) {
    on_connected_ = std::move(on_connected);
    fd_.reset(socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_) {
        local_failure_ = local_cause(errno);
        return on_connected_(false, strerror(errno));
    }
    if (::connect(fd_.get(), address.sockaddr_ptr(), address.length()) == 0) return on_connected_(true, "connected");
    if (errno != EINPROGRESS) {
        local_failure_ = local_cause(errno);
        return on_connected_(false, strerror(errno));
    }
    event_ = make_event(base, fd_.get(), EV_WRITE, &ProbeSocket::on_writable, this);
    event_add(event_.get(), nullptr);  // the checker owns the timeout
}

void ProbeSocket::on_writable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<ProbeSocket*>(arg);
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    self->event_.reset();
    if (err != 0) return self->on_connected_(false, strerror(err));
    self->on_connected_(true, "connected");
}

void ProbeSocket::close() {
    event_.reset();
    if (!fd_) return;
    linger lin{1, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    fd_.reset();
}

}  // namespace lbd
