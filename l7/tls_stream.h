// The client side of a TLS listener: a socket bufferevent whose read and
// write events are ours and go through OpenSSL (server side of the
// handshake), in place of libevent's bufferevent_openssl.
//
// Why not bufferevent_openssl: per response it adds and deletes a write
// event (two epoll_ctl) and sends one loop turn later; it reads 4 KiB of
// ciphertext per SSL_read and makes a record, and a send(), per evbuffer
// piece. Here, as for plain streams (l7/socket_io.h):
//
//   read event   one recv() of up to 64 KiB of ciphertext into a per-thread
//                scratch buffer; the SSL's BIO (ours) serves from it with
//                read_ahead on, so a partial record stays inside OpenSSL;
//                SSL_read loops into the input evbuffer until OpenSSL wants
//                more ciphertext. Every byte one recv() brought is taken in
//                that pass, even past the read watermark (by at most one
//                recv), so nothing decrypted waits inside OpenSSL while the
//                watermark suspends reading: level-triggered epoll only
//                sees the socket, and a record split across recv()s needs
//                the socket anyway.
//   write        flush() (at the end of each session callback) encrypts the
//                output in records of up to 16 KiB into a per-thread
//                scratch, sends up to 4 records with one send(), and drains
//                the plaintext only once its ciphertext is on the wire: an
//                empty output still means "all sent", which close_notify,
//                flush-and-close and the tunnel's half-close rely on. What
//                the socket does not take waits in `pending_` (at most one
//                scratch, so a slow reader costs ~66 KiB more), and EV_WRITE
//                (ours) goes on until it is sent, then the write callback
//                runs as libevent's would (deferred, low watermark).
//   handshake    driven by the read event (SSL_do_handshake); its end is
//                BEV_EVENT_CONNECTED (deferred: libevent runs it before the
//                read callback, so a request that came with the client's
//                Finished, decrypted in the same pass, is read after it);
//                a failure is BEV_EVENT_ERROR (EOF: BEV_EVENT_EOF) with the
//                reason kept for error().
//
// Everything else stays libevent's: enabling, watermark suspension, the
// deferred callbacks, timeouts on the events, the bufferevent's teardown.
// The BIO never blocks (it takes every byte OpenSSL writes), so OpenSSL never
// returns WANT_WRITE and never retries a write; renegotiation is off
// (SSL_OP_NO_RENEGOTIATION, tls_context.cc), so SSL_write never reads.
//
// The scratch buffers are per thread and empty between passes: every pass
// (read event, write event, flush, close_notify) ends by sending or moving
// to `pending_` what it encrypted.
//
// Worker thread only (the bufferevent's loop).
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "l7/tls/tls_certificate.h"

namespace lbd::l7 {

class TlsStream {
public:
    // Takes over `bev` (a socket bufferevent on its fd, whose events are not
    // pending) for `ssl`, a server-side SSL. `handshake_done`: a connection
    // resumed from parking (transport.h), whose SSL has finished it.
    TlsStream(bufferevent* bev, SslPtr ssl, bool handshake_done);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    // The TLS stream driving `bev`, or null (a plain or a server stream).
    static TlsStream* of(const bufferevent* bev);

    SSL* ssl() const { return ssl_.get(); }
    bool handshake_done() const { return handshake_done_; }

    // Reads what already waits (a ClientHello right after the accept).
    void read_now();
    // Sends what the output holds (see above); call at the end of each
    // callback that may write.
    void flush();
    // Sends close_notify once the handshake is done: now if the output is
    // empty (one attempt), else behind the output's last record, in the
    // same send() (the session calls it when it closes after a response).
    // Nothing may be written to the output after. No-op before the
    // handshake's end and the second time.
    void close_notify();
    // Why the stream failed: OpenSSL's reasons and the certificate
    // verification result, or the socket error; empty if it did not.
    const std::string& error() const { return error_; }

    // Lets go of the bufferevent before it is freed: its events stop calling
    // us (a deferred callback may keep a freed bufferevent alive a little).
    void detach();
    // Detaches and gives the SSL up (for parking); the stream is dead after.
    SslPtr release_ssl();

private:
    enum class Sent : uint8_t { kAll, kBlocked, kFailed };
    struct BioKind {
        BIO_METHOD* method = nullptr;
        int type = 0;
    };

    static const BioKind& bio_kind();

    static void on_readable(evutil_socket_t fd, short what, void* arg);
    static void on_writable(evutil_socket_t fd, short what, void* arg);
    static int bio_read(BIO* bio, char* out, int len);
    static int bio_write(BIO* bio, const char* data, int len);

    void read_pass();
    short decrypt(size_t room, size_t* plain);
    Sent write_out();
    void shutdown_after(size_t have);
    Sent send_cipher();
    void take_cipher(const char* data, size_t len);
    void fail_tls(int ssl_error);
    void fail_socket(int err);

    bufferevent* bev_;
    SslPtr ssl_;
    bool handshake_done_;
    bool closing_ = false;  // close_notify() was called
    // Ciphertext made but not taken by the socket yet (null until needed).
    std::unique_ptr<evbuffer, void (*)(evbuffer*)> pending_{nullptr, &evbuffer_free};
    // The front bytes of the output whose ciphertext waits in `pending_`.
    size_t encrypted_ = 0;
    // During a read pass: the ciphertext the BIO hands to OpenSSL.
    const char* in_ = nullptr;
    size_t in_len_ = 0;
    std::string error_;
};

}  // namespace lbd::l7
