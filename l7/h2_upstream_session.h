// The two halves of HTTP/2 to servers (h2_upstream.h): one client session
// on one server connection, and one exchange's stream on it. Internal to
// h2_upstream*.cc.
//
// Worker thread only.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/http1/body.h"
#include "l7/h2_upstream.h"
#include "l7/http1.h"

namespace lbd::l7 {

class H2UpstreamSession {
public:
    H2UpstreamSession(H2Upstreams& owner, std::shared_ptr<Server> server, uint32_t idle_ms,
                      std::shared_ptr<const TlsClientContext> tls);
    ~H2UpstreamSession();
    H2UpstreamSession(const H2UpstreamSession&) = delete;
    H2UpstreamSession& operator=(const H2UpstreamSession&) = delete;

    // Starts the TCP connect (and, with tls, the handshake); 0, or errno.
    int connect(const std::string& check_name);
    // Connected, and the server's SETTINGS came: streams may be sent.
    bool connected() const { return state_ == State::kReady && settings_; }
    // Takes another stream: not going away, under the server's limit.
    bool has_room() const;
    size_t stream_count() const { return streams_.size(); }
    const Server* server() const { return server_.get(); }
    const TlsClientContext* tls() const { return tls_.get(); }

    // No new stream; closes now if idle (true), else when its streams end.
    bool drain();

    void attach(H2UpstreamStream* stream);
    void detach(H2UpstreamStream* stream);
    nghttp2_session* session() { return session_; }
    // Sends what nghttp2 has queued, within the socket's high water mark.
    void send();

private:
    enum class State : uint8_t { kConnecting, kReady, kClosed };

    static nghttp2_session_callbacks* callbacks();
    static int on_header(nghttp2_session* s, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
    static int on_frame_recv(nghttp2_session* s, const nghttp2_frame* frame, void* user);
    static int on_data_chunk(nghttp2_session* s, uint8_t flags, int32_t id, const uint8_t* data, size_t len,
                             void* user);
    static int on_stream_close(nghttp2_session* s, int32_t id, uint32_t error, void* user);
    static int on_frame_not_send(nghttp2_session* s, const nghttp2_frame* frame, int error, void* user);
    static void on_read(bufferevent* bev, void* arg);
    static void on_write(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);
    static void on_idle(evutil_socket_t fd, short what, void* arg);

    H2UpstreamStream* stream(int32_t id);
    // The connection is over: every stream learns it (`failed_connect`: it
    // never came up), then the session is retired.
    void close(bool failed_connect);
    void update_idle();
    // The waiting streams' drivers go on (outside nghttp2's callbacks).
    void notify_connected();
    // Over TLS: the handshake chose "h2" by ALPN (else it logs why not).
    bool alpn_h2();

    H2Upstreams& owner_;
    std::shared_ptr<Server> server_;
    uint32_t idle_ms_;
    std::shared_ptr<const TlsClientContext> tls_;  // null: h2c
    BufferEventPtr bev_;
    nghttp2_session* session_ = nullptr;
    std::list<H2UpstreamStream*> streams_;
    EventPtr idle_timer_;
    State state_ = State::kConnecting;
    bool goaway_ = false;          // the server's GOAWAY, or drain(): no new streams
    bool settings_ = false;        // the server's first SETTINGS came
    bool notify_pending_ = false;  // ... and the waiting streams are yet to hear it
    bool in_nghttp2_ = false;  // inside mem_recv / mem_send: no send() from callbacks
};

class H2UpstreamStream final : public UpstreamLink {
public:
    // `mine`: this side of the pair (owned); the driver's is conn.bev.
    H2UpstreamStream(H2UpstreamSession* session, Exchange& ex, UpstreamConn& conn, BufferEventPtr mine);
    ~H2UpstreamStream() override;

    // From the session.
    void session_connected();
    // The connection is over: the driver learns it (`failed_connect`: it
    // never came up). The session no longer knows this stream.
    void session_lost(bool failed_connect);
    // The session goes away without a word (the worker's end).
    void orphan() { session_ = nullptr; }
    void on_header(std::string_view name, std::string_view value);
    void on_headers_end(nghttp2_headers_category cat, bool end_stream);
    void on_data(const uint8_t* data, size_t len);
    void on_data_end();
    void on_close(uint32_t error);
    void on_not_sent();

    std::list<H2UpstreamStream*>::iterator self;

private:
    static void on_request_bytes(bufferevent* bev, void* arg);
    static void on_response_drained(bufferevent* bev, void* arg);
    static ssize_t read_body(nghttp2_session* s, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                             nghttp2_data_source* source, void* user);
    // Parses the request head from the pair and submits HEADERS; false: wait.
    bool submit_head();
    // Decodes request body bytes from the pair into body_, within its bound.
    void pump_body();
    void write_response_head(bool end_stream);
    // Where response bytes go: the pair, or (`held`) held_; null: no memory.
    evbuffer* response_output(bool held);
    // The stream ended: what was held back goes to the driver.
    void release_held();
    // Calls the driver's event callback on its end (from the loop, never
    // from inside nghttp2).
    void tell_driver(short what);
    // The stream ends without a (whole) response: EOF on the driver's end.
    void cut(bool retryable);

    H2UpstreamSession* session_;
    Exchange& ex_;
    UpstreamConn& conn_;
    BufferEventPtr mine_;
    using Buffer = std::unique_ptr<evbuffer, void (*)(evbuffer*)>;
    Buffer body_;  // request DATA waiting for nghttp2
    Buffer held_{nullptr, &evbuffer_free};  // the response's last bytes, until END_STREAM
    uint64_t length_left_ = 0;              // of the server's content-length
    bool hold_ = false;
    BodyDecoder request_body_;
    int32_t id_ = -1;
    bool head_sent_ = false;
    bool body_done_ = false;
    bool deferred_ = false;
    bool chunked_ = false;  // the response goes to the driver chunk-framed
    bool response_head_ = false;
    bool finished_ = false;  // END_STREAM from the server, or cut
    bool closed_ = false;
    size_t unconsumed_ = 0;
    int status_ = 0;
    std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace lbd::l7
