#include "l7/transport.h"

#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "l7/socket_io.h"
#include "l7/tls_context.h"

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

ClientStream make_client_stream(event_base* base, UniqueFd fd, const TlsServerContext* tls) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ClientStream stream;
    if (tls == nullptr) {
        stream.bev.reset(checked(bufferevent_socket_new(base, fd.release(), kOptions)));
        use_large_io(stream.bev.get());
        return stream;
    }
    SslPtr ssl = tls->new_session();
    if (!ssl) {
        std::fprintf(stderr, "SSL_new failed: out of memory\n");
        std::abort();
    }
    stream.ssl = ssl.get();
    // The bufferevent owns the SSL from here (BEV_OPT_CLOSE_ON_FREE frees both).
    stream.bev.reset(checked(
        bufferevent_openssl_socket_new(base, fd.release(), ssl.release(), BUFFEREVENT_SSL_ACCEPTING, kOptions)));
    // A client that closes TCP without close_notify (many do, after their
    // last response) is an EOF, as on a plain connection: HTTP framing, not
    // the TLS close, tells whether a request was complete.
    bufferevent_openssl_set_allow_dirty_shutdown(stream.bev.get(), 1);
    stream.scheme = "https";
    return stream;
}

ClientStream resume_client_stream(event_base* base, UniqueFd fd) {
    ClientStream stream;
    stream.bev.reset(checked(bufferevent_socket_new(base, fd.release(), kOptions)));
    use_large_io(stream.bev.get());
    return stream;
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
    if (stream.ssl == nullptr || !SSL_is_init_finished(stream.ssl)) return;
    // One non-blocking attempt: the output is flushed, so the alert fits in
    // the socket buffer; if it does not, the peer sees a dirty close.
    ERR_clear_error();
    SSL_shutdown(stream.ssl);
    ERR_clear_error();
}

std::string stream_error(bufferevent* bev) {
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
