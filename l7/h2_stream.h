// One HTTP/2 stream of an H2Connection (h2_connection.h): its request head
// translated to a RequestInfo (h2_request_head.h), its Exchange and
// ExchangeDriver, and the ClientSide (client_side.h) the driver talks to.
//
// The request body reaches the driver as HTTP/1.1 bytes: DATA as they are
// when the request has a content-length (nghttp2 checks DATA against it),
// else chunk-framed (the driver's decoder checks and forwards them; END_STREAM
// is the last chunk, with the client's trailers, if any, as its trailer
// section; with a content-length they have no place and are dropped). The
// response body is taken de-framed from the driver
// and given to nghttp2 through a deferred data provider; what waits there
// counts against the connection's budget (h2_response_budget.h).
//
// An RFC 8441 WebSocket (extended CONNECT, when http2.websocket is on)
// goes to its server as an HTTP/1.1 upgrade (h2_websocket.h); the 101
// becomes a 200 and the stream a tunnel: DATA bytes to the server as they
// are, its bytes back as DATA, the same windows and buffers as a body.
// END_STREAM is the tunnel's half-close each way (RFC 8441 §5: TCP's FIN);
// a broken side is RST_STREAM CANCEL (TCP's RST).
//
// Lifetime: made at the stream's first HEADERS; its Exchange ends when the
// response is done (or cut); the object is freed (from the loop) once both
// the exchange and nghttp2's stream are over.
//
// Worker thread only.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "l7/client_side.h"
#include "l7/exchange.h"
#include "l7/exchange_driver.h"
#include "l7/h2_request_head.h"
#include "l7/h2_response_budget.h"

namespace lbd::l7 {

class H2Connection;

class H2Stream final : public ClientSide {
public:
    // A request head over this many times max_header_list_bytes is reset
    // (INTERNAL_ERROR) rather than decoded to its end and answered 431.
    static constexpr uint32_t kHeaderBombFactor = 4;
    // A response past this many bytes lets newer streams of its connection
    // go first (share_long_response): a page's resources, an API call behind
    // a download. Above the 64 KiB responses of h2load -m100, which stay
    // one after another.
    static constexpr uint64_t kLongResponseBytes = 1 << 20;
    // Up to this many streams on its connection, a stream's first server
    // read is a full one (server_read).
    static constexpr size_t kFullFirstReadStreams = 2 * kH2ConnectionResponseBudget / (64 * 1024);

    H2Stream(H2Connection& conn, int32_t id);
    ~H2Stream() override;

    int32_t id() const { return id_; }
    bool exchange_active() const { return ex_.has_value(); }

    // From the connection's nghttp2 callbacks.
    // False: the head is a bomb (far over max_header_list_bytes), not
    // worth decoding further (h2_stream.cc).
    bool on_header(std::string_view name, std::string_view value);
    // A field of the request's trailers: kept for an HTTP/2 server.
    void on_trailer(std::string_view name, std::string_view value);
    // The request head is complete: translate it and start the exchange.
    void on_request_head(bool end_stream);
    void on_data(const uint8_t* data, size_t len);
    void on_request_end();
    // nghttp2 closed the stream (`error`: 0 when both sides ended well).
    void on_close(uint32_t error);
    // The connection ends now.
    void shutdown(Termination term);
    // The client can take more response bytes.
    void writable();
    bool closed() const { return closed_; }
    // Moves the next `length` response bytes, a DATA frame's payload that
    // read_body counted, into `out` (H2Connection::on_send_data).
    bool send_body(evbuffer* out, size_t length);
    void flush_upstream() { driver_.flush_upstream(); }

    std::list<std::unique_ptr<H2Stream>>::iterator self;

private:
    // ClientSide (client_side.h).
    evbuffer* request_input() override { return request_in_.get(); }
    // A reset ends the exchange at once; END_STREAM ends only a tunnel's input.
    bool request_input_ended() const override { return websocket_ && request_ended_; }
    evbuffer* response_output() override { return response_out_.get(); }
    void send_interim(Exchange& ex, const ResponseInfo& interim) override;
    void send_response_head(Exchange& ex) override;
    void respond_local(int status, const std::string& content_type, const std::string& body, const HeaderList& extra,
                       Termination term, bool close) override;
    void respond_stored(const LocalAnswer& answer) override;
    void respond_error(int status, Termination term) override;
    void response_done(Termination term) override;
    void abort(Termination term) override;
    ResponseRoom response_room(size_t high_water) override;
    ServerRead server_read() override;
    uint64_t connection_sent_ms() const override;
    void response_data_added() override;
    bool draining() const override;
    void flush() override;
    bool send_tunnel_head(Exchange& ex) override;
    void shutdown_write() override;
    // An extended CONNECT (RFC 8441): false if answered already (not a WebSocket).
    bool start_websocket();

    // Submits a response: `nva` (":status" first) and, if `body`, the data provider.
    void submit(const HeaderList& fields, int status, bool body);
    // A local or stored answer whose body (if any) is in response_out_: the
    // head submitted, the exchange ended.
    void send_answer(const HeaderList& headers, int status, bool with_body, Termination term);
    void end_exchange(Termination term);
    // Submits trailers_ as the stream's last HEADERS; false: none sent.
    bool submit_trailers();
    void maybe_retire();
    // Past kLongResponseBytes, lets newer streams go first (h2_stream_send.cc).
    void share_long_response();
    // Brings the connection's response budget up to response_out_'s length.
    void count_held();
    static ssize_t read_body(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                             uint32_t* data_flags, nghttp2_data_source* source, void* user);
    static void on_request_drained(evbuffer* buffer, const evbuffer_cb_info* info, void* arg);

    H2Connection& conn_;
    const int32_t id_;
    using Buffer = std::unique_ptr<evbuffer, void (*)(evbuffer*)>;
    Buffer request_in_;
    Buffer response_out_;
    H2RequestHead head_;  // as it comes
    bool chunked_ = false;  // the request body is chunk-framed for the driver
    bool request_ended_ = false;
    size_t unconsumed_ = 0;  // DATA bytes not yet given back to the flow-control windows
    size_t held_ = 0;        // response_out_'s length as the connection's budget counts it
    uint64_t data_sent_ = 0;  // response DATA bytes handed to nghttp2
    bool client_priority_ = false;  // the request carried RFC 9218's `priority` field
    bool shared_ = false;           // share_long_response() ran
    bool response_submitted_ = false;
    bool response_eof_ = false;  // every response byte is in response_out_
    bool deferred_ = false;      // the data provider waits for bytes
    bool closed_ = false;        // nghttp2's stream is over
    bool retired_ = false;
    bool websocket_ = false;  // an RFC 8441 WebSocket: the stream becomes a tunnel
    std::string websocket_key_;  // the Sec-WebSocket-Key lbd sent its server
    HeaderList trailers_;  // an HTTP/2 server's response trailers, sent after the last DATA
    std::optional<Exchange> ex_;
    ExchangeDriver driver_;
};

}  // namespace lbd::l7
