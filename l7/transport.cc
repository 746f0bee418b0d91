#include "l7/transport.h"

#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "l7/socket_io.h"
#include "l7/tls/tls_context.h"
#include "l7/tls_stream.h"

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

// A client stream on `fd`: plain (ssl null) or TLS over `ssl`.
ClientStream client_stream(event_base* base, UniqueFd fd, SslPtr ssl, bool handshake_done) {
    ClientStream stream;
    stream.bev.reset(checked(bufferevent_socket_new(base, fd.release(), kOptions)));
    if (!ssl) {
        use_large_io(stream.bev.get());
        return stream;
    }
    stream.ssl = ssl.get();
    stream.tls = std::make_unique<TlsStream>(stream.bev.get(), std::move(ssl), handshake_done);
    stream.scheme = "https";
    return stream;
}

}  // namespace

void free_stream(bufferevent* bev) {
    if (TlsStream* tls = TlsStream::of(bev)) tls->detach();
    bufferevent_free(bev);
}

ClientStream make_client_stream(event_base* base, UniqueFd fd, const TlsServerContext* tls) {
    // No TCP_NODELAY here: an accepted socket inherits it from its listening
    // socket (bind_tcp_socket sets it), which saves a system call per connection.
    SslPtr ssl;
    if (tls != nullptr) {
        ssl = tls->new_session();
        if (!ssl) {
            std::fprintf(stderr, "SSL_new failed: out of memory\n");
            std::abort();
        }
    }
    // A client that closes TCP without close_notify (many do, after their
    // last response) is an EOF, as on a plain connection: HTTP framing, not
    // the TLS close, tells whether a request was complete (TlsStream reports
    // the socket's EOF as such).
    return client_stream(base, std::move(fd), std::move(ssl), false);
}

SslPtr release_client_ssl(ClientStream& stream) {
    if (!stream.tls) return nullptr;
    SslPtr ssl = stream.tls->release_ssl();
    stream.tls.reset();
    stream.ssl = nullptr;
    return ssl;
}

ClientStream resume_client_stream(event_base* base, UniqueFd fd, SslPtr ssl) {
    return client_stream(base, std::move(fd), std::move(ssl), true);
}

BufferEventPtr make_server_stream(event_base* base, const TlsClientContext* tls, std::string_view server_name) {
    if (tls == nullptr) return BufferEventPtr(checked(bufferevent_socket_new(base, -1, kOptions)));
    SslPtr ssl = tls->new_session(server_name);
    if (!ssl) return nullptr;
    // Dirty shutdown stays an error here: a response read until close is
    // only known complete by close_notify (tls_client_context.cc).
    return BufferEventPtr(
        checked(bufferevent_openssl_socket_new(base, -1, ssl.release(), BUFFEREVENT_SSL_CONNECTING, kOptions)));
}

void close_notify(ClientStream& stream) {
    if (stream.tls) stream.tls->close_notify();
}

bool more_readable(bufferevent* bev) {
    if (bufferevent* partner = bufferevent_pair_get_partner(bev))
        return evbuffer_get_length(bufferevent_get_output(partner)) > 0;
    if (SSL* ssl = bufferevent_openssl_get_ssl(bev); ssl != nullptr && SSL_pending(ssl) > 0) return true;
    const evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd < 0) return false;
    // A peek rather than FIONREAD: it also sees an end of stream already
    // queued (0), which ends an until-close body on the next read. An error
    // is left to that read to report.
    char byte = 0;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

std::string stream_error(bufferevent* bev) {
    if (TlsStream* tls = TlsStream::of(bev)) return tls->error().empty() ? "connection closed" : tls->error();
    std::string out;
    if (SSL* ssl = bufferevent_openssl_get_ssl(bev)) {
        while (unsigned long e = bufferevent_get_openssl_error(bev)) {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof buf);
            out += (out.empty() ? "" : "; ") + std::string(buf);
        }
        if (SSL_get_verify_result(ssl) != X509_V_OK) out += (out.empty() ? "" : "; ") + std::string(verify_result_text(ssl));
        if (!out.empty()) return "tls: " + out;
    }
    int err = EVUTIL_SOCKET_ERROR();
    return err != 0 ? std::strerror(err) : "connection closed";
}

}  // namespace lbd::l7
