// The byte streams of the HTTP proxy: libevent bufferevents.
//
// Why bufferevents rather than our own Transport interface: a session reads
// and writes evbuffers, gets read/write/event callbacks and sets watermarks,
// and none of that changes when the bytes are encrypted. TLS on the client
// side (l7/tls_context.h builds the SSL_CTX and picks it by SNI) is then a
// change of this one file: make_client_stream() creates the stream with
// bufferevent_openssl_socket_new(base, fd, SSL_new(ctx),
// BUFFEREVENT_SSL_ACCEPTING, options) instead of bufferevent_socket_new, and
// sets `scheme` to "https". The session, its phases and its back-pressure
// stay as they are. (That needs libevent_openssl in the build.)
//
// Every stream is made with BEV_OPT_DEFER_CALLBACKS: callbacks never run
// inside a call the session makes (a write, a connect that fails at once),
// only from the loop, so a session is never re-entered half-way.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <memory>
#include <string>

#include "core/config.h"
#include "core/event.h"

namespace lbd::l7 {

struct BufferEventDeleter {
    void operator()(bufferevent* bev) const { bufferevent_free(bev); }
};
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;

struct ClientStream {
    BufferEventPtr bev;           // owns the fd
    std::string scheme = "http";  // what X-Forwarded-Proto and redirects say
};

// The client side of an accepted connection of `listener`.
ClientStream make_client_stream(event_base* base, UniqueFd fd, const ListenerConfig& listener);

// An unconnected stream to a server (bufferevent_socket_connect connects it).
BufferEventPtr make_server_stream(event_base* base);

}  // namespace lbd::l7
