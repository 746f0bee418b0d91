// The byte streams of the HTTP proxy: libevent bufferevents.
//
// Why bufferevents rather than our own Transport interface: a session reads
// and writes evbuffers, gets read/write/event callbacks and sets watermarks,
// and none of that changes when the bytes are encrypted. TLS (the contexts of
// l7/tls/tls_context.h) is a choice made here: a client stream of a TLS listener
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
// (release_client_ssl), and get a stream again when the client speaks
// (resume_client_stream), on the same worker thread.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/loop/event.h"
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

// Parking a TLS connection (parked_client.h keeps an idle connection's
// socket without its session or stream): release_client_ssl() takes the SSL
// (handshake done) out of an idle TLS client stream, whose input and output
// are empty; the stream's own events on the socket are deleted, so add the
// parked read event first (no epoll_ctl: libevent keeps the socket
// registered while any event reads it), then take the SSL, then detach the
// socket (bufferevent_setfd(bev, -1)) and free the stream. The SSL keeps what
// it holds (at most the start of a record, read ahead). Null on a plain
// stream. A parked TLS connection that times out should still say
// close_notify, or its session is not resumable: resume_client_stream, then
// close_notify (its BIO writes only through a stream).
SslPtr release_client_ssl(ClientStream& stream);

// The client side of a parked connection that has a request again: as
// make_client_stream, without the socket options the accept already set,
// and over `ssl` (from release_client_ssl) without a handshake: no
// BEV_EVENT_CONNECTED comes. Then: callbacks, watermarks, enable_stream and
// read_now (socket_io.h), as after an accept.
ClientStream resume_client_stream(event_base* base, UniqueFd fd, SslPtr ssl = {});

// An unconnected stream to a server (bufferevent_socket_connect connects it).
// `tls` non-null: over TLS, sending and checking `server_name` (or the
// context's own name when empty; an IP literal is checked, not sent).
// Null only when `tls` cannot make an SSL (out of memory).
BufferEventPtr make_server_stream(event_base* base, const TlsClientContext* tls = nullptr,
                                  std::string_view server_name = {});

// Whether more of a server stream's input can be read at once, without
// waiting for its server: bytes or the end of the stream in the socket's
// receive queue, decrypted bytes in OpenSSL, or, an HTTP/2 server's stream
// (a bufferevent pair, h2_upstream.h), bytes its partner end has not handed
// over yet. False: what came is all there is for now. One recv(MSG_PEEK)
// on a socket.
bool more_readable(bufferevent* bev);

// Sends TLS close_notify on a client stream that will write nothing more:
// behind what its output holds (with its last record), or now if it is
// empty. A clean close lets OpenSSL keep the session resumable
// (tls_context.h, "Closing"). No-op on a plain stream, and the second time.
void close_notify(ClientStream& stream);

// Why a stream failed, for a debug line: OpenSSL's reasons (and the
// certificate verification result) on a TLS stream, else the socket error.
std::string stream_error(bufferevent* bev);

}  // namespace lbd::l7
