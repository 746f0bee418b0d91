// The byte streams of the HTTP proxy: libevent bufferevents.
//
// Why bufferevents rather than our own Transport interface: a session reads
// and writes evbuffers, gets read/write/event callbacks and sets watermarks,
// and none of that changes when the bytes are encrypted. TLS (the contexts of
// l7/tls_context.h) is a choice made here: a client stream of a TLS listener
// is a bufferevent_openssl in the accepting state, a server stream of a pool
// with tls one in the connecting state; the session, its phases and its
// back-pressure stay as they are. What the session sees of TLS: the
// handshake's end as BEV_EVENT_CONNECTED on the client stream (a server
// stream reports CONNECTED after its handshake, as a plain one after its TCP
// connect), and a failed handshake as BEV_EVENT_ERROR.
//
// Every stream is made with BEV_OPT_DEFER_CALLBACKS: callbacks never run
// inside a call the session makes (a write, a connect that fails at once),
// only from the loop, so a session is never re-entered half-way.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/event.h"

namespace lbd::l7 {

struct BufferEventDeleter {
    void operator()(bufferevent* bev) const { bufferevent_free(bev); }
};
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;

class TlsServerContext;
class TlsClientContext;

struct ClientStream {
    BufferEventPtr bev;           // owns the fd (and the SSL, if any)
    std::string scheme = "http";  // what X-Forwarded-Proto and redirects say
    SSL* ssl = nullptr;           // owned by bev; null = plain
};

// The client side of an accepted connection; `tls` non-null = a TLS
// listener (the handshake starts with the first read).
ClientStream make_client_stream(event_base* base, UniqueFd fd, const TlsServerContext* tls);

// The client side of a parked plain connection that has a request again
// (parked_client.h): as make_client_stream, without the socket options the
// accept already set.
ClientStream resume_client_stream(event_base* base, UniqueFd fd);

// An unconnected stream to a server (bufferevent_socket_connect connects it).
// `tls` non-null: over TLS, sending and checking `server_name` (or the
// context's own name when empty; an IP literal is checked, not sent).
// Null only when `tls` cannot make an SSL (out of memory).
BufferEventPtr make_server_stream(event_base* base, const TlsClientContext* tls = nullptr,
                                  std::string_view server_name = {});

// Sends TLS close_notify on a client stream whose output is flushed, before
// it is freed: OpenSSL keeps the session of a cleanly closed connection
// resumable (tls_context.h, "Closing"). No-op on a plain stream.
void close_notify(ClientStream& stream);

// Why a stream failed, for a debug line: OpenSSL's reasons (and the
// certificate verification result) on a TLS stream, else the socket error.
std::string stream_error(bufferevent* bev);

}  // namespace lbd::l7
