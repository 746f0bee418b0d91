#include "core/net/proxy_socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace lbd {

namespace {

// What a peek reads first: a v1 line (<= 107 bytes) or a v2 header with
// IPv6 addresses and a few TLVs fits; longer v2 headers grow the buffer to
// the length they announce.
constexpr size_t kProxyPeekInitial = 256;

bool is_transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// True once the peer has sent its FIN. A header is peeked, never read until
// whole, so a cut-off header followed by FIN still shows its bytes to
// MSG_PEEK and looks like "more to come"; POLLRDHUP tells them apart.
bool peer_finished_sending(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

ProxyReadResult invalid(const char* why) {
    ProxyReadResult out;
    out.error = why;
    return out;
}

}  // namespace

ProxyReadResult read_proxy_header(int fd, bool peer_closed) {
    std::string buf(kProxyPeekInitial, '\0');
    for (;;) {
        ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK);
        if (n < 0 && is_transient(errno)) return ProxyReadResult{ProxyReadStatus::kWait, {}, nullptr};
        if (n <= 0) return invalid("closed or reset before a whole PROXY header");
        auto parsed = parse_proxy_header(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(n));
        if (parsed.status == ProxyParseStatus::kInvalid) return invalid(parsed.error ? parsed.error : "bad PROXY header");
        if (parsed.status == ProxyParseStatus::kNeedMore) {
            // A long v2 header: grow and peek again; otherwise wait for bytes.
            if (static_cast<size_t>(n) == buf.size() && parsed.need_at_least > buf.size()) {
                buf.resize(parsed.need_at_least);
                continue;
            }
            // Nothing more can come after the peer's FIN.
            if (peer_closed || peer_finished_sending(fd)) return invalid("closed before a whole PROXY header");
            return ProxyReadResult{ProxyReadStatus::kWait, {}, nullptr};
        }
        ssize_t consumed = recv(fd, buf.data(), parsed.consumed, 0);
        if (consumed != static_cast<ssize_t>(parsed.consumed)) return invalid("PROXY header could not be consumed");
        return ProxyReadResult{ProxyReadStatus::kComplete, parsed.header, nullptr};
    }
}

}  // namespace lbd
