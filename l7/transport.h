// The byte streams of the HTTP proxy: libevent bufferevents.
//
// Why bufferevents rather than our own Transport interface: a session reads
// and writes evbuffers, gets read/write/event callbacks and sets watermarks,
// and none of that changes when the bytes are encrypted. TLS (the contexts of
// l7/tls_context.h) is a choice made here: a client stream of a TLS listener
// is a socket bufferevent whose read and write events go through OpenSSL
// (l7/tls_stream.h: large reads, writes at the end of each callback, as the
// plain streams of l7/socket_io.h), a server stream of a pool with tls a
// bufferevent_openssl in the connecting state; the session, its phases and
// its back-pressure stay as they are. What the session sees of TLS: the
// handshake's end as BEV_EVENT_CONNECTED on the client stream (a server
// stream reports CONNECTED after its handshake, as a plain one after its TCP
// connect), and a failed handshake as BEV_EVENT_ERROR (BEV_EVENT_EOF when the
// client just closed).
//
// Every stream is made with BEV_OPT_DEFER_CALLBACKS: callbacks never run
// inside a call the session makes (a write, a connect that fails at once),
// only from the loop, so a session is never re-entered half-way.
//
// Parking: an idle keep-alive client connection can give up its stream and
// keep only the socket and, over TLS, the SSL with its finished handshake
// (park_client_stream), and get a stream again when the client speaks
// (resume_client_stream), on the same worker thread.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/event.h"
#include "l7/tls_stream.h"

namespace lbd::l7 {

// Frees a stream: a TLS client stream's events are let go of first
// (TlsStream::detach), then bufferevent_free.
void free_stream(bufferevent* bev);

struct BufferEventDeleter {
    void operator()(bufferevent* bev) const { free_stream(bev); }
};
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;

class TlsServerContext;
class TlsClientContext;

struct ClientStream {
    std::unique_ptr<TlsStream> tls;  // TLS: the I/O through OpenSSL, owns the SSL; outlives bev
    BufferEventPtr bev;              // owns the fd
    std::string scheme = "http";     // what X-Forwarded-Proto and redirects say
    SSL* ssl = nullptr;              // owned by tls; null = plain
};

// The client side of an accepted connection; `tls` non-null = a TLS
// listener (the handshake starts with the first read).
ClientStream make_client_stream(event_base* base, UniqueFd fd, const TlsServerContext* tls);

// An idle client connection without its stream (parking): the socket and,
// on a TLS listener, the SSL (handshake done, nothing buffered but maybe the
// start of a record, which stays inside it).
struct IdleClient {
    UniqueFd fd;
    SslPtr ssl;  // null = plain
};

// Takes an idle client stream apart. Precondition: its input and output are
// empty (no pipelined request waits, the last response is sent). The
// stream's events are gone after, so readiness of the socket is the owner's
// to watch (e.g. an EV_READ event on idle.fd).
IdleClient park_client_stream(ClientStream&& stream);

// A client stream again from a parked connection, as make_client_stream
// made it (reads large, writes through) but without a handshake: no
// BEV_EVENT_CONNECTED comes. Then: callbacks, watermarks, enable_stream and
// read_now (socket_io.h), as after an accept.
ClientStream resume_client_stream(event_base* base, IdleClient idle);

// An unconnected stream to a server (bufferevent_socket_connect connects it).
// `tls` non-null: over TLS, sending and checking `server_name` (or the
// context's own name when empty; an IP literal is checked, not sent).
// Null only when `tls` cannot make an SSL (out of memory).
BufferEventPtr make_server_stream(event_base* base, const TlsClientContext* tls = nullptr,
                                  std::string_view server_name = {});

// Sends TLS close_notify on a client stream that will write nothing more:
// behind what its output holds (with its last record), or now if it is
// empty. A clean close lets OpenSSL keep the session resumable
// (tls_context.h, "Closing"). No-op on a plain stream, and the second time.
void close_notify(ClientStream& stream);

// Why a stream failed, for a debug line: OpenSSL's reasons (and the
// certificate verification result) on a TLS stream, else the socket error.
std::string stream_error(bufferevent* bev);

}  // namespace lbd::l7
