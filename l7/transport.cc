#include "l7/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

#include "l7/socket_io.h"

namespace lbd::l7 {

namespace {

constexpr int kOptions = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

bufferevent* checked(bufferevent* bev) {
    if (bev == nullptr) {
        // As make_event(): a failed small malloc is not recovered from.
        std::fprintf(stderr, "bufferevent_socket_new failed: out of memory\n");
        std::abort();
    }
    return bev;
}

}  // namespace

ClientStream make_client_stream(event_base* base, UniqueFd fd, const ListenerConfig&) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ClientStream stream;
    stream.bev.reset(checked(bufferevent_socket_new(base, fd.release(), kOptions)));
    use_large_io(stream.bev.get());
    return stream;
}

BufferEventPtr make_server_stream(event_base* base) {
    return BufferEventPtr(checked(bufferevent_socket_new(base, -1, kOptions)));
}

}  // namespace lbd::l7
