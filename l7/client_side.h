// What the server-facing driver of one Exchange (exchange_driver.h) needs
// from the client side of that exchange: the client codec (HTTP/1 today:
// HttpSession; HTTP/2: one stream of an H2 connection) implements it. The
// driver knows nothing of the client's protocol, only these buffers and
// events; the codec knows nothing of routing or servers.
//
// Bodies: the request body arrives in request_input() in the framing the
// Exchange's RequestInfo declares (Content-Length or chunked; the driver's
// BodyDecoder checks it and forwards the bytes as they are). Response body
// bytes go to response_output() in the framing the codec chose in
// send_response_head() (Exchange::framing), while that buffer holds less
// than the driver's high water mark; the codec calls the driver's
// client_writable() when it has drained, and client_readable() when request
// bytes came. That is the back-pressure both ways.
//
// Worker thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <event2/buffer.h>

#include "l7/exchange.h"
#include "l7/http_message.h"
#include "l7/proxy_types.h"

namespace lbd::l7 {

// How much one read of the server's socket takes (ClientSide::server_read):
// what the client side cannot take yet then waits in the kernel rather than
// in lbd's heap. An HTTP/2 connection's streams share a response budget
// (h2_response_budget.h); past it, or before a response has begun, a
// stream reads little.
enum class ServerRead : uint8_t {
    kFull,   // up to 64 KiB
    kSmall,  // up to 16 KiB
};

// Whether response_output() takes more body bytes now (response_room()).
enum class ResponseRoom {
    kTake,
    // At the exchange's own high water: the server's next bytes wait in its
    // stream's input, bounded by the read watermark.
    kFull,
    // The client connection's budget is spent (HTTP/2, h2_response_budget.h):
    // the server is not read at all until client_writable().
    kHold,
};

class ClientSide {
public:
    virtual ~ClientSide() = default;

    // Request body bytes from the client, framed as the request says.
    virtual evbuffer* request_input() = 0;
    // No more request bytes will come (the client closed its side).
    virtual bool request_input_ended() const = 0;
    // Where the response body goes (and, for a tunnel, every byte).
    virtual evbuffer* response_output() = 0;

    // A 1xx before the final head (the codec drops it for clients that
    // cannot take one).
    virtual void send_interim(Exchange& ex, const ResponseInfo& interim) = 0;
    // The final head (ex.response): sets ex.framing, ex.response_started
    // and ex.status, writes the head.
    virtual void send_response_head(Exchange& ex) = 0;
    // A response lbd writes itself instead of a server's; ends the exchange.
    virtual void respond_local(int status, const std::string& content_type, const std::string& body,
                               const HeaderList& extra, Termination term, bool close) = 0;
    // A stored response (a cache hit, LocalAnswer::as_stored): its own
    // fields as they are, its body by reference (shared_body, no copy per
    // hit); ends the exchange.
    virtual void respond_stored(const LocalAnswer& answer) = 0;
    // An error answer (the configured error page), or the exchange cut if a
    // response is already under way.
    virtual void respond_error(int status, Termination term) = 0;
    // The response ended well (the server connection is already given back).
    virtual void response_done(Termination term) = 0;
    // The exchange cannot go on: cut it (HTTP/1: the connection; HTTP/2: the stream).
    virtual void abort(Termination term) = 0;
    // See ResponseRoom; `high_water` is the exchange's own bound.
    virtual ResponseRoom response_room(size_t high_water) {
        return evbuffer_get_length(response_output()) < high_water ? ResponseRoom::kTake : ResponseRoom::kFull;
    }
    // How much one read of the server takes now (ServerRead).
    virtual ServerRead server_read() { return ServerRead::kFull; }
    // Response bytes were added to response_output() (HTTP/2 resumes its
    // data provider; HTTP/1 sends at the end of the callback anyway).
    virtual void response_data_added() {}
    // When the client's connection last sent response bytes of any of its
    // exchanges (monotonic ms), or 0 when it carries only this one (HTTP/1,
    // whose own bytes moving count as progress). An HTTP/2 stream's response
    // may wait its turn behind its connection's other streams (RFC 9218 sends
    // them one after another); while the connection is sending, that wait is
    // not the server going idle (ExchangeDriver::waits_for_busy_client).
    virtual uint64_t connection_sent_ms() const { return 0; }
    // The request's bytes wait for the server (its output is full): the
    // client is not read meanwhile (HTTP/1: its socket's reads go off, for
    // the reason ExchangeDriver::hold_server_reads gives; an HTTP/2 stream's
    // window stays shut until its bytes move anyway).
    virtual void hold_request_reads(bool /*hold*/) {}
    // response_output() drains straight to a plain socket (HTTP/1 without
    // TLS), so a file's bytes may go by sendfile(2) (libevent file segments).
    virtual bool writes_to_socket() const { return false; }
    // The plain socket response_output() drains to (writes_to_socket()), or -1.
    virtual int client_socket() const { return -1; }
    // The listener is draining: servers' connections are not kept.
    virtual bool draining() const = 0;
    // Sends what was queued for the client (end of a server-side callback).
    virtual void flush() = 0;

    // Tunnels. The server's 101 (ex.response) starts one: its head goes to
    // the client (HTTP/1: as it is, into response_output(); HTTP/2: the
    // 200 of an RFC 8441 WebSocket). False: the client side refuses it (a
    // wrong Sec-WebSocket-Accept) and the driver answers 502.
    virtual bool send_tunnel_head(Exchange& ex) {
        std::string head = serialize_response(ex.response, ClientFraming::kNone, HttpVersion::k11, false);
        evbuffer_add(response_output(), head.data(), head.size());
        ex.bytes_out += head.size();
        return true;
    }
    // Every byte from the server went to the client: end the client's side
    // of the tunnel (HTTP/1: shut the socket's write side; HTTP/2: END_STREAM).
    virtual void shutdown_write() {}
};

// Appends a stored body (a cache hit's shared_body) to `out` by reference
// (a small one by copy): no copy of a large body per hit; the reference
// keeps the body alive until sent. False
// (nothing added) if libevent could not take the reference.
inline bool add_shared_body(evbuffer* out, const std::shared_ptr<const std::string>& body) {
    // A small body is copied: it lands in the chain the head was just
    // written to, where a reference costs two allocations (the owner here,
    // libevent's chain) and a release callback.
    constexpr size_t kCopyBelow = 2048;
    if (body->size() < kCopyBelow) return evbuffer_add(out, body->data(), body->size()) == 0;
    auto* owner = new std::shared_ptr<const std::string>(body);
    auto release = [](const void*, size_t, void* arg) { delete static_cast<std::shared_ptr<const std::string>*>(arg); };
    if (evbuffer_add_reference(out, (*owner)->data(), (*owner)->size(), release, owner) == 0) return true;
    delete owner;
    return false;
}

}  // namespace lbd::l7
