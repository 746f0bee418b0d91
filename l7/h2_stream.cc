// H2Stream: one HTTP/2 request and its response (h2_stream.h).
#include "l7/h2_stream.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/base/log.h"
#include "l7/h2_connection.h"
#include "l7/h2_websocket.h"
#include "l7/http_listener.h"
#include "l7/route_filter.h"

namespace lbd::l7 {

namespace {

// RFC 9113 §8.2.2: fields of HTTP/1's connection management. nghttp2
// refuses them on requests; the same goes for responses here.
bool connection_specific(std::string_view name) {
    return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection") ||
           iequals(name, "transfer-encoding") || iequals(name, "upgrade");
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

// The end of a request body framed chunked for the HTTP/1.1 side: the
// last chunk, then the client's trailers as its trailer section (RFC 9112
// §7.1.2), less what no trailer may carry (RFC 9110 §6.5.1; nghttp2 has
// refused the connection-specific fields already). An HTTP/2 server gets
// them from Exchange::request_trailers instead (h2_upstream.h), its codec
// dropping this section.
void add_last_chunk(evbuffer* out, const HeaderList& trailers) {
    evbuffer_add(out, "0\r\n", 3);
    for (const auto& [name, value] : trailers) {
        if (name == "content-length" || name == "host" || name == "trailer" || name == "te") continue;
        evbuffer_add_printf(out, "%s: %s\r\n", name.c_str(), value.c_str());
    }
    evbuffer_add(out, "\r\n", 2);
}

// The fields of a response head or trailers as nghttp2 takes them: names
// lower case (RFC 9113 §8.2), connection-specific fields left out (and
// pseudo-headers, for trailers). Built in per-thread scratch that keeps its
// capacity, so a response costs no allocation here once the worker is warm
// (nghttp2 copies the array and the strings when they are submitted).
class NvList {
public:
    // The list, emptied, with room for `fields` names: names_ never grows
    // while the array points into it.
    static NvList& scratch(size_t fields) {
        thread_local NvList list;
        if (list.names_.size() < fields) list.names_.resize(fields);
        list.nva_.clear();
        list.nva_.reserve(fields + 1);
        list.used_ = 0;
        return list;
    }
    void add(const std::string& name, const std::string& value) {
        std::string& lower = names_[used_++];
        lower.assign(name);
        for (char& c : lower) c = to_lower_ascii(c);
        nva_.push_back(make_nv(lower, value));
    }
    void add_as_is(std::string_view name, std::string_view value) { nva_.push_back(make_nv(name, value)); }
    nghttp2_nv* data() { return nva_.data(); }
    size_t size() const { return nva_.size(); }

private:
    std::vector<std::string> names_;
    size_t used_ = 0;
    std::vector<nghttp2_nv> nva_;
};

}  // namespace

H2Stream::H2Stream(H2Connection& conn, int32_t id)
    : conn_(conn),
      id_(id),
      request_in_(evbuffer_new(), &evbuffer_free),
      response_out_(evbuffer_new(), &evbuffer_free),
      head_(conn.listener().http().http2.max_header_list_bytes),
      driver_(conn.worker(), conn.listener(), *this) {
    evbuffer_add_cb(request_in_.get(), &H2Stream::on_request_drained, this);
}

H2Stream::~H2Stream() {
    evbuffer_remove_cb(request_in_.get(), &H2Stream::on_request_drained, this);
    conn_.response_budget().update(held_, 0);
    conn_.response_budget().forget(this);
    conn_.forget(this);
}

// --- the request ---------------------------------------------------------------------

bool H2Stream::on_header(std::string_view name, std::string_view value) {
    head_.add(name, value);
    if (name == "priority") client_priority_ = true;
    // A head a little over the limit (a large cookie) is answered 431. One
    // that inflates to many times it is an HPACK bomb (one byte on the wire
    // per reference to a large table entry): nghttp2 would check every
    // byte of every field, milliseconds of the worker per stream.
    return head_.bytes() <= size_t{kHeaderBombFactor} * conn_.listener().http().http2.max_header_list_bytes;
}

void H2Stream::on_trailer(std::string_view name, std::string_view value) {
    // nghttp2 bounds their size as a head's (max_header_list_bytes).
    if (ex_ && !ex_->request_body_done) ex_->request_trailers.emplace_back(std::string(name), std::string(value));
}

void H2Stream::on_request_head(bool end_stream) {
    HttpListener& listener = conn_.listener();
    const HttpConfig& http = listener.http();
    request_ended_ = end_stream;
    conn_.upstream_written(this);
    ex_.emplace(conn_.endpoint(), monotonic_ms());
    listener.stats().requests.fetch_add(1, std::memory_order_relaxed);
    listener.stats().h2_streams.fetch_add(1, std::memory_order_relaxed);
    ex_->bytes_in = head_.bytes();
    if (head_.too_large()) {
        conn_.glitch(H2Limit::kHeaderList);
        ex_->request.method = head_.method().substr(0, 32);
        ex_->request.path = head_.path().substr(0, 256);
        return respond_error(431, Termination::kBadRequest);
    }
    if (!head_.protocol().empty() && !start_websocket()) return;
    if (!head_.translate(ex_->request, end_stream)) {
        conn_.glitch(H2Limit::kProtocolError);
        return respond_error(400, Termination::kBadRequest);
    }
    if (websocket_) websocket::add_handshake(ex_->request, websocket_key_ = websocket::new_key());
    chunked_ = ex_->request.framing == BodyFraming::kChunked;
    HttpLimits limits;
    limits.max_body_bytes = http.limits.max_body_bytes;
    // The trailer section add_last_chunk writes: bounded by nghttp2 as a head is.
    limits.max_trailer_bytes = std::max<size_t>(limits.max_trailer_bytes, http.http2.max_header_list_bytes);
    ex_->request_body = BodyDecoder(ex_->request.framing, ex_->request.content_length, limits);
    ex_->request_body_done = ex_->request_body.done();
    if (http.limits.max_body_bytes != 0 && ex_->request.framing == BodyFraming::kContentLength &&
        ex_->request.content_length > http.limits.max_body_bytes)
        return respond_error(413, Termination::kBadRequest);
    driver_.start(*ex_);
}

bool H2Stream::start_websocket() {
    // nghttp2 lets :protocol through only with http2.websocket on (else the
    // stream is malformed: RST_STREAM PROTOCOL_ERROR, RFC 8441 §3). Another
    // protocol is well-formed but not one lbd can carry to an HTTP/1.1
    // server: 501, RFC 9110 §15.6.2 (the method's function is not there).
    if (head_.protocol() == "websocket") return websocket_ = true;
    ex_->request.method = head_.method().substr(0, 32);
    ex_->request.path = head_.path().substr(0, 256);
    respond_error(501, Termination::kBadRequest);
    return false;
}

void H2Stream::on_data(const uint8_t* data, size_t len) {
    conn_.upstream_written(this);
    if (websocket_ && ex_) {
        // Tunnel bytes (before the 101 they wait, bounded by the window);
        // counted as the tunnel moves them (pump_tunnel).
        unconsumed_ += len;
        evbuffer_add(request_in_.get(), data, len);
        return driver_.client_readable();
    }
    if (!ex_ || ex_->request_body_done) {
        // Nobody reads it (answered already): give the window back at once.
        nghttp2_session_consume(conn_.session(), id_, len);
        return;
    }
    unconsumed_ += len;
    ex_->bytes_in += len;
    if (chunked_) {
        char size[24];
        const int n = std::snprintf(size, sizeof size, "%zx\r\n", len);
        evbuffer_add(request_in_.get(), size, static_cast<size_t>(n));
        evbuffer_add(request_in_.get(), data, len);
        evbuffer_add(request_in_.get(), "\r\n", 2);
    } else {
        evbuffer_add(request_in_.get(), data, len);
    }
    driver_.client_readable();
}

void H2Stream::on_request_end() {
    if (request_ended_) return;
    request_ended_ = true;
    conn_.upstream_written(this);
    if (websocket_) {
        if (ex_) driver_.client_eof();  // a tunnel's half-close (request_input_ended())
        return;
    }
    if (!ex_ || ex_->request_body_done) return;
    if (chunked_) add_last_chunk(request_in_.get(), ex_->request_trailers);
    driver_.client_readable();
}

void H2Stream::on_request_drained(evbuffer*, const evbuffer_cb_info* info, void* arg) {
    auto* self = static_cast<H2Stream*>(arg);
    if (info->n_deleted == 0 || self->unconsumed_ == 0 || self->closed_) return;
    // The server took these bytes: the client may send as many more. The
    // chunk framing counts too, so the window opens a little early (a few
    // bytes per DATA frame).
    const size_t n = std::min(info->n_deleted, self->unconsumed_);
    self->unconsumed_ -= n;
    nghttp2_session_consume(self->conn_.session(), self->id_, n);
}

void H2Stream::on_close(uint32_t error) {
    closed_ = true;
    // What was never read still counts against the connection's window.
    if (unconsumed_ != 0) nghttp2_session_consume_connection(conn_.session(), unconsumed_);
    unconsumed_ = 0;
    if (ex_) {
        LOG_DEBUG("http listener=%s client=%s: h2 stream %d closed (error %u) before its response ended",
                  conn_.listener().config().name.c_str(), conn_.endpoint().peer.to_string().c_str(), id_, error);
        end_exchange(Termination::kClientAbort);
    }
    maybe_retire();
}

void H2Stream::shutdown(Termination term) {
    // nghttp2 may still name this stream (it goes with the connection).
    if (ex_) end_exchange(term);
}

// --- the response (ClientSide) ---------------------------------------------------------

void H2Stream::submit(const HeaderList& fields, int status, bool body) {
    char status_text[12];
    const char* end = std::to_chars(status_text, status_text + sizeof status_text, status).ptr;
    NvList& nva = NvList::scratch(fields.size());
    nva.add_as_is(":status", std::string_view(status_text, static_cast<size_t>(end - status_text)));
    for (const auto& [name, value] : fields)
        if (!connection_specific(name)) nva.add(name, value);
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = &H2Stream::read_body;
    if (status < 200) {
        nghttp2_submit_headers(conn_.session(), NGHTTP2_FLAG_NONE, id_, nullptr, nva.data(), nva.size(), nullptr);
        return;
    }
    response_submitted_ = true;
    nghttp2_submit_response(conn_.session(), id_, nva.data(), nva.size(), body ? &provider : nullptr);
}

void H2Stream::send_interim(Exchange&, const ResponseInfo& interim) {
    if (!closed_) submit(interim.headers, interim.status, false);
}

bool H2Stream::send_tunnel_head(Exchange& ex) {
    // Only an extended CONNECT asks for an upgrade over HTTP/2. The 101 is
    // checked as a WebSocket client would (the client never saw the key).
    if (!websocket_ || !websocket::accepted(ex.response, websocket_key_)) return false;
    HeaderList fields = ex.response.headers;  // -protocol, -extensions and the rest; not Upgrade
    remove_header(fields, "sec-websocket-accept");
    ex.framing = ClientFraming::kNone;
    // RFC 8441 §5: a 2xx, then the stream carries the WebSocket's bytes.
    if (!closed_) submit(fields, 200, true);
    return true;
}

void H2Stream::shutdown_write() {
    // Every server byte is in nghttp2's hands: END_STREAM after them.
    response_eof_ = true;
    response_data_added();
}

void H2Stream::send_response_head(Exchange& ex) {
    // A 2xx other than the 101 to a WebSocket would tell the client its
    // tunnel is open (RFC 8441 §5): the server did not upgrade, 502.
    if (websocket_ && ex.response.status / 100 == 2) return respond_error(502, Termination::kBadResponse);
    // The driver gives the body de-framed: chunked is undone, a length kept;
    // body stages' output goes as it comes (DATA frames are the framing).
    if (!ex.body_filters.empty())
        ex.framing = ex.response.framing == BodyFraming::kNone ? ClientFraming::kNone : ClientFraming::kDechunk;
    else
        ex.framing = ex.response.framing == BodyFraming::kChunked ? ClientFraming::kDechunk
                                                                   : client_framing(ex.response, HttpVersion::k11);
    ex.status = ex.response.status;
    ex.response_started = true;
    conn_.listener().stats().responses[static_cast<size_t>(std::clamp(ex.status / 100, 1, 5) - 1)].fetch_add(
        1, std::memory_order_relaxed);
    // HEAD, 204, 304 and empty bodies: the head ends the stream.
    const bool body = !ex.response_body.done();
    if (closed_) return;
    submit(ex.response.headers, ex.response.status, body);
}

void H2Stream::respond_local(int status, const std::string& content_type, const std::string& body,
                             const HeaderList& extra, Termination term, bool) {
    Exchange& ex = *ex_;
    ex.release_server();
    const HttpConfig& http = conn_.listener().http();
    HeaderList headers = extra;
    const VariableSource vars = variable_source(ex);
    if (ex.route != nullptr) apply_header_actions(headers, ex.route->response_headers, &vars);
    headers.emplace_back("content-type", content_type);
    headers.emplace_back("content-length", std::to_string(body.size()));
    apply_header_actions(headers, http.response_headers, &vars);
    const bool with_body = ex.request.method_kind != HttpMethod::kHead && !body.empty();
    if (with_body) {
        evbuffer_add(response_out_.get(), body.data(), body.size());
        ex.bytes_out += body.size();
    }
    send_answer(headers, status, with_body, term);
}

void H2Stream::respond_stored(const LocalAnswer& answer) {
    Exchange& ex = *ex_;
    ex.release_server();
    // Its own fields as stored (a hit's stored_headers, then the fields
    // added for this answer); RFC 9110 §8.6: no Content-Length on a 204 or
    // 304. The body by reference (no copy per hit).
    HeaderList headers;
    headers.reserve((answer.stored_headers ? answer.stored_headers->size() : 0) + answer.headers.size() + 1);
    if (answer.stored_headers) headers = *answer.stored_headers;
    headers.insert(headers.end(), answer.headers.begin(), answer.headers.end());
    const bool bodiless = answer.status == 304 || answer.status == 204;
    const size_t size = answer.shared_body ? answer.shared_body->size() : 0;
    if (!bodiless) headers.emplace_back("content-length", std::to_string(size));
    const bool with_body = !bodiless && ex.request.method_kind != HttpMethod::kHead && size != 0;
    if (with_body) {
        add_shared_body(response_out_.get(), answer.shared_body);
        ex.bytes_out += size;
    }
    send_answer(headers, answer.status, with_body, answer.term);
}

void H2Stream::send_answer(const HeaderList& headers, int status, bool with_body, Termination term) {
    ex_->status = status;
    response_eof_ = true;
    count_held();
    conn_.listener().stats().responses[static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1)].fetch_add(
        1, std::memory_order_relaxed);
    if (!closed_) submit(headers, status, with_body);
    end_exchange(term);
}

void H2Stream::respond_error(int status, Termination term) {
    // A response already under way cannot be replaced: reset the stream.
    if (ex_->response_started) return abort(term);
    auto [content_type, body] = error_body(conn_.listener().http(), status);
    respond_local(status, content_type, body, {}, term, false);
}

void H2Stream::response_done(Termination term) {
    response_eof_ = true;
    trailers_ = std::move(ex_->response_trailers);  // the exchange goes now; they go last
    response_data_added();
    // A request body still coming is read and dropped (on_data).
    end_exchange(term);
}

void H2Stream::abort(Termination term) {
    // A tunnel closed each way (END_STREAM both ways) ends well.
    if (websocket_ && ex_ && ex_->client_shut && ex_->server_shut) return end_exchange(term);
    // A broken tunnel is RST_STREAM CANCEL (RFC 8441 §5: TCP's RST).
    const uint32_t code = websocket_ && driver_.tunneling() ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR;
    if (!closed_) nghttp2_submit_rst_stream(conn_.session(), NGHTTP2_FLAG_NONE, id_, code);
    end_exchange(term);
}

void H2Stream::writable() {
    if (!ex_) return;
    // A WebSocket tunnel moves the client's bytes on to its server when the
    // client takes more; a request's body does not wait for that, so other
    // streams (every one nghttp2 sent a frame of) need no flush of theirs.
    if (websocket_) conn_.upstream_written(this);
    driver_.client_writable();
}

bool H2Stream::draining() const { return conn_.draining(); }

// The end of a server callback: the connection writes once the other
// callbacks of this loop turn have added theirs.
void H2Stream::flush() { conn_.schedule_flush(); }

bool H2Stream::submit_trailers() {
    // A trailing HEADERS frame ends the stream (gRPC's grpc-status);
    // connection-specific fields never go into one.
    NvList& nva = NvList::scratch(trailers_.size());
    for (const auto& [name, value] : trailers_)
        if (!connection_specific(name) && !name.empty() && name[0] != ':') nva.add(name, value);
    return nva.size() != 0 && nghttp2_submit_trailer(conn_.session(), id_, nva.data(), nva.size()) == 0;
}

// --- the end -------------------------------------------------------------------------------

void H2Stream::end_exchange(Termination term) {
    if (!ex_) return;
    driver_.stop();
    conn_.owner().h2_exchange_ended(*ex_, term);
    ex_.reset();  // gives back the server connection and slot
    maybe_retire();
}

void H2Stream::maybe_retire() {
    if (retired_ || ex_ || !closed_) return;
    retired_ = true;
    conn_.retire(this);
}

}  // namespace lbd::l7
