#include "cli/lbctl_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/admin/admin_framing.h"

namespace lbd::lbctl {

namespace {

int remaining_ms(uint64_t deadline_ms) {
    uint64_t now = monotonic_ms();
    return now >= deadline_ms ? 0 : static_cast<int>(std::min<uint64_t>(deadline_ms - now, 1 << 30));
}

// Waits for `events` on fd until the deadline. False at the deadline; true
// when ready (or on an error condition, which the next syscall reports).
bool wait_for(int fd, short events, uint64_t deadline_ms) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, remaining_ms(deadline_ms));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return true;
    }
}

ClientError fail(ClientError::Kind kind, std::string message) { return ClientError{kind, std::move(message)}; }

}  // namespace

AdminClient::AdminClient(std::string socket_path, int timeout_ms)
    : socket_path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

bool AdminClient::call(const AdminRequest& request, AdminResponse* response, ClientError* error) {
    uint64_t deadline = monotonic_ms() + static_cast<uint64_t>(timeout_ms_);
    std::string body;
    bool ok = (fd_ || connect_socket(deadline, error)) && send_frame(encode_frame(request), deadline, error) &&
              read_frame(&body, deadline, error);
    if (ok && !response->ParseFromString(body)) {
        *error = fail(ClientError::Kind::kBadReply, "the reply is not an lbd.v1.AdminResponse");
        ok = false;
    }
    if (!ok) fd_.reset();  // the stream is out of step; start afresh next time
    return ok;
}

bool AdminClient::connect_socket(uint64_t deadline_ms, ClientError* error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.empty() || socket_path_.size() >= sizeof addr.sun_path) {
        *error = fail(ClientError::Kind::kUnreachable, "not a usable socket path (empty or longer than " +
                                                           std::to_string(sizeof addr.sun_path - 1) + " bytes)");
        return false;
    }
    std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());

    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_) {
        *error = fail(ClientError::Kind::kUnreachable, std::string("socket: ") + std::strerror(errno));
        return false;
    }
    // A non-blocking connect on a Unix socket either succeeds at once or, when
    // lbd's accept backlog is full, fails with EAGAIN (it never goes
    // EINPROGRESS as TCP does). Retry then, a little later, until the deadline.
    for (;;) {
        if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN && remaining_ms(deadline_ms) > 0) {
            ::poll(nullptr, 0, std::min(10, remaining_ms(deadline_ms)));
            continue;
        }
        fd_.reset();
        *error = fail(ClientError::Kind::kUnreachable,
                      err == EAGAIN ? "timed out connecting (lbd's admin backlog is full)" : std::strerror(err));
        return false;
    }
}

bool AdminClient::send_frame(const std::string& frame, uint64_t deadline_ms, ClientError* error) {
    size_t sent = 0;
    while (sent < frame.size()) {
        ssize_t n = ::send(fd_.get(), frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(fd_.get(), POLLOUT, deadline_ms)) continue;
            *error = fail(ClientError::Kind::kUnreachable,
                          "timed out sending the request after " + std::to_string(timeout_ms_) + " ms");
            return false;
        }
        *error = fail(ClientError::Kind::kUnreachable, std::string("sending the request: ") + std::strerror(errno));
        return false;
    }
    return true;
}

bool AdminClient::read_frame(std::string* body, uint64_t deadline_ms, ClientError* error) {
    std::string buffer;
    char chunk[16384];
    for (;;) {
        FrameHeader header =
            decode_frame_header(reinterpret_cast<const uint8_t*>(buffer.data()), buffer.size());
        if (header.status == FrameStatus::kInvalid) {
            *error = fail(ClientError::Kind::kBadReply, "the reply has an invalid length prefix");
            return false;
        }
        if (header.status == FrameStatus::kComplete) {
            size_t total = header.header_bytes + header.body_bytes;
            if (buffer.size() > total) {
                // lbd answers each request exactly once: more bytes than one
                // reply means the two sides disagree on the stream.
                *error = fail(ClientError::Kind::kBadReply, "unexpected bytes after the reply");
                return false;
            }
            if (buffer.size() == total) {
                body->assign(buffer, header.header_bytes, std::string::npos);
                return true;
            }
        }
        ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
        if (n > 0) {
            buffer.append(chunk, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) {
            *error = fail(ClientError::Kind::kUnreachable, "lbd closed the connection before replying");
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_for(fd_.get(), POLLIN, deadline_ms)) continue;
            *error = fail(ClientError::Kind::kUnreachable, "no reply within " + std::to_string(timeout_ms_) + " ms");
            return false;
        }
        *error = fail(ClientError::Kind::kUnreachable, std::string("reading the reply: ") + std::strerror(errno));
        return false;
    }
}

}  // namespace lbd::lbctl
