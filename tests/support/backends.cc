#include "tests/support/backends.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "tests/support/net.h"

namespace lbd::test {
namespace {

// Stop reading from a client whose echo has not drained past this, so a fast sender cannot grow
// the backend's memory without bound (the kernel's buffers then push back on lbd, as a real
// server would).
constexpr size_t kMaxPendingEcho = 4 << 20;

std::chrono::steady_clock::time_point deadline_after(int timeout_ms) {
    return std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
}

}  // namespace

// One accepted connection; touched only by the loop thread.
struct Backend::Connection {
    UniqueFd fd;
    size_t index = 0;      // accept order, the key into recorded_
    std::string out;       // greeting and echo bytes not yet written
    size_t out_off = 0;    // how much of `out` is written
    size_t source_off = 0; // how much of options_.source is written
    bool peer_eof = false;
    bool write_shut = false;

    size_t pending_out() const { return out.size() - out_off; }
};

Backend::Backend(BackendOptions options) : options_(std::move(options)) {
    listen_fd_ = listen_tcp(0);
    wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!listen_fd_ || !wake_fd_) return;  // port() stays 0: the test's REQUIRE reports it
    port_ = local_port(listen_fd_.get());
    // Non-blocking, so accept_new() can take every queued connection and stop at EAGAIN.
    ::fcntl(listen_fd_.get(), F_SETFL, ::fcntl(listen_fd_.get(), F_GETFL) | O_NONBLOCK);
    thread_ = std::thread([this] { run(); });
}

Backend::~Backend() { stop(); }

size_t Backend::accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
}

size_t Backend::open_connections() const {
    std::lock_guard lock(mu_);
    return open_;
}

bool Backend::wait_for_accepted(size_t n, int timeout_ms) const {
    std::unique_lock lock(mu_);
    return changed_.wait_until(lock, deadline_after(timeout_ms), [&] { return accepted_ >= n; });
}

std::optional<std::string> Backend::wait_for_recorded(size_t index, const std::string& needle, int timeout_ms) const {
    std::unique_lock lock(mu_);
    bool ok = changed_.wait_until(lock, deadline_after(timeout_ms), [&] {
        return index < recorded_.size() && recorded_[index].find(needle) != std::string::npos;
    });
    if (!ok) return std::nullopt;
    return recorded_[index];
}

std::vector<std::string> Backend::recorded() const {
    std::lock_guard lock(mu_);
    return recorded_;
}

void Backend::stop() { halt(Command::kStop); }
void Backend::kill() { halt(Command::kKill); }

void Backend::halt(Command how) {
    {
        std::lock_guard lock(mu_);
        if (command_ == Command::kNone) command_ = how;  // the first command wins
    }
    if (wake_fd_) {
        uint64_t one = 1;
        ssize_t rc = ::write(wake_fd_.get(), &one, sizeof one);
        (void)rc;  // the counter cannot overflow with a handful of writes
    }
    if (thread_.joinable()) thread_.join();
}

void Backend::run() {
    std::vector<pollfd> fds;
    for (;;) {
        Command command;
        {
            std::lock_guard lock(mu_);
            command = command_;
        }
        if (command != Command::kNone) break;

        fds.clear();
        fds.push_back({wake_fd_.get(), POLLIN, 0});
        fds.push_back({listen_fd_.get(), POLLIN, 0});
        for (const auto& c : connections_) {
            short events = 0;
            if (!c->peer_eof && c->pending_out() < kMaxPendingEcho) events |= POLLIN;
            bool source_left = options_.source && c->source_off < options_.source->size();
            if (!c->write_shut && (c->pending_out() > 0 || source_left)) events |= POLLOUT;
            fds.push_back({c->fd.get(), events, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR

        if (fds[0].revents) {
            uint64_t count = 0;
            ssize_t rc = ::read(wake_fd_.get(), &count, sizeof count);
            (void)rc;
            continue;  // the command is read at the top of the loop
        }
        // Handle the existing connections before accept_new() appends to the vector.
        size_t closed = 0;
        for (size_t i = 0; i < connections_.size(); ++i) {
            short rev = fds[i + 2].revents;
            Connection& c = *connections_[i];
            bool keep = true;
            if (rev & (POLLIN | POLLHUP | POLLERR)) keep = on_readable(c);
            if (keep && (rev & POLLOUT)) keep = on_writable(c);
            if (!keep) {
                c.fd.reset();
                ++closed;
            }
        }
        if (closed > 0) {
            std::erase_if(connections_, [](const auto& c) { return !c->fd; });
            std::lock_guard lock(mu_);
            open_ -= closed;
            changed_.notify_all();
        }
        if (fds[1].revents) accept_new();
    }

    Command command;
    {
        std::lock_guard lock(mu_);
        command = command_;
    }
    listen_fd_.reset();
    for (auto& c : connections_) {
        if (command == Command::kKill) {
            linger lg{1, 0};  // close() now sends RST instead of FIN
            ::setsockopt(c->fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        c->fd.reset();
    }
    connections_.clear();
    std::lock_guard lock(mu_);
    open_ = 0;
    changed_.notify_all();
}

void Backend::accept_new() {
    for (;;) {
        int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;  // EAGAIN, or an aborted connection: nothing more to accept now
        auto c = std::make_unique<Connection>();
        c->fd = UniqueFd(fd);
        c->out = options_.greeting;
        {
            std::lock_guard lock(mu_);
            c->index = accepted_++;
            ++open_;
            recorded_.emplace_back();
            changed_.notify_all();
        }
        connections_.push_back(std::move(c));
    }
}

bool Backend::on_readable(Connection& c) {
    char buf[65536];
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) {
        c.peer_eof = true;
        return on_writable(c);  // may now half-close and finish
    }
    std::string_view data(buf, static_cast<size_t>(n));
    if (options_.record_limit > 0) {
        std::lock_guard lock(mu_);
        std::string& rec = recorded_[c.index];
        rec.append(data.substr(0, options_.record_limit - std::min(rec.size(), options_.record_limit)));
        changed_.notify_all();
    }
    if (options_.echo) c.out.append(data);
    return on_writable(c);
}

bool Backend::on_writable(Connection& c) {
    const std::string* source = options_.source.get();
    while (!c.write_shut) {
        std::string_view chunk;
        if (c.pending_out() > 0) {
            chunk = std::string_view(c.out).substr(c.out_off);
        } else if (source && c.source_off < source->size()) {
            chunk = std::string_view(*source).substr(c.source_off);
        } else {
            break;
        }
        ssize_t n = ::send(c.fd.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        if (c.pending_out() > 0) {
            c.out_off += static_cast<size_t>(n);
            if (c.out_off == c.out.size()) {
                c.out.clear();
                c.out_off = 0;
            }
        } else {
            c.source_off += static_cast<size_t>(n);
        }
    }
    if (c.pending_out() > 0 || (source && c.source_off < source->size())) return true;
    // All written. A download half-closes at once; an echo or a recorder once the client has.
    if (!c.write_shut && (source || c.peer_eof)) {
        ::shutdown(c.fd.get(), SHUT_WR);
        c.write_shut = true;
    }
    return !(c.write_shut && c.peer_eof);
}

namespace {

// Designated initializers would leave -Wmissing-field-initializers warnings; named setters don't.
BackendOptions named_options(const std::string& name) {
    BackendOptions o;
    o.greeting = name + "\n";
    return o;
}

BackendOptions source_options(std::shared_ptr<const std::string> payload) {
    BackendOptions o;
    o.echo = false;
    o.source = std::move(payload);
    return o;
}

BackendOptions recording_options(size_t limit) {
    BackendOptions o;
    o.echo = false;
    o.record_limit = limit;
    return o;
}

}  // namespace

EchoServer::EchoServer() : Backend(BackendOptions{}) {}

NamedServer::NamedServer(std::string name) : Backend(named_options(name)), name_(std::move(name)) {}

SourceServer::SourceServer(std::shared_ptr<const std::string> payload) : Backend(source_options(std::move(payload))) {}

RecordingServer::RecordingServer(size_t limit) : Backend(recording_options(limit)) {}

}  // namespace lbd::test
