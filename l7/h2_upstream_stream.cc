// H2UpstreamStream: one exchange's HTTP/2 stream to a server, translating
// between the driver's HTTP/1.1 bytes and nghttp2 (h2_upstream.h).
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/base/log.h"
#include "l7/exchange.h"
#include "l7/h2_upstream_session.h"

namespace lbd::l7 {

namespace {

// Request body bytes decoded ahead of nghttp2, and read from the pair at once.
constexpr size_t kBodyBuffer = 64 * 1024;
constexpr size_t kPairReadHighWater = 64 * 1024;
// The response goes to the pair; its DATA are consumed once this little is left.
constexpr size_t kResponseLowWater = 16 * 1024;

// RFC 9113 §8.2.2, and Host (it becomes :authority).
bool dropped_request_field(std::string_view name) {
    return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection") ||
           iequals(name, "transfer-encoding") || iequals(name, "upgrade") || iequals(name, "te") ||
           iequals(name, "host") || iequals(name, "trailer");
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

void add_fields(evbuffer* out, const std::vector<std::pair<std::string, std::string>>& fields) {
    for (const auto& [name, value] : fields) {
        if (name.empty() || name[0] == ':') continue;
        evbuffer_add_printf(out, "%s: %s\r\n", name.c_str(), value.c_str());
    }
}

}  // namespace

H2UpstreamStream::H2UpstreamStream(H2UpstreamSession* session, Exchange& ex, UpstreamConn& conn,
                                   BufferEventPtr mine)
    : session_(session), ex_(ex), conn_(conn), mine_(std::move(mine)), body_(evbuffer_new(), &evbuffer_free) {
    session_->attach(this);
    bufferevent* bev = mine_.get();
    bufferevent_setcb(bev, &H2UpstreamStream::on_request_bytes, &H2UpstreamStream::on_response_drained, nullptr, this);
    // No read bound until the head is whole (a head of any size the driver allows).
    bufferevent_setwatermark(bev, EV_WRITE, kResponseLowWater, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

H2UpstreamStream::~H2UpstreamStream() {
    if (session_ == nullptr) return;
    nghttp2_session* s = session_->session();
    if (id_ > 0) {
        nghttp2_session_set_stream_user_data(s, id_, nullptr);
        // What the driver never took still counts against the connection's window.
        if (unconsumed_ != 0) nghttp2_session_consume_connection(s, unconsumed_);
        if (!closed_) nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
    }
    H2UpstreamSession* session = session_;
    session_ = nullptr;
    session->detach(this);
    session->send();
}

// --- driver notices --------------------------------------------------------------------------

void H2UpstreamStream::tell_driver(short what) {
    bufferevent_event_cb cb = nullptr;
    void* arg = nullptr;
    bufferevent_getcb(conn_.bev.get(), nullptr, nullptr, &cb, &arg);
    if (cb != nullptr) cb(conn_.bev.get(), what, arg);  // may free this stream
}

void H2UpstreamStream::session_connected() { tell_driver(BEV_EVENT_CONNECTED); }

void H2UpstreamStream::session_lost(bool failed_connect) {
    session_ = nullptr;
    // The driver waits in its connect phase for this session: a connect failure.
    if (failed_connect) return tell_driver(BEV_EVENT_ERROR);
    cut(false);
}

void H2UpstreamStream::cut(bool retryable) {
    if (finished_) return;
    finished_ = true;
    // A refused stream looks like a reused keep-alive connection closed
    // under its request: the driver's retry rule (http_exchange.cc).
    conn_.reused = retryable;
    bufferevent_flush(mine_.get(), EV_WRITE, BEV_FINISHED);  // EOF on the driver's end (deferred)
}

// --- the request -----------------------------------------------------------------------------

void H2UpstreamStream::on_request_bytes(bufferevent*, void* arg) {
    auto* self = static_cast<H2UpstreamStream*>(arg);
    if (self->session_ == nullptr || self->finished_) return;
    if (!self->head_sent_ && !self->submit_head()) return;
    self->pump_body();
    self->session_->send();
}

bool H2UpstreamStream::submit_head() {
    evbuffer* in = bufferevent_get_input(mine_.get());
    const size_t n = evbuffer_get_length(in);
    if (n == 0) return false;
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
    static const HttpLimits limits = [] {
        HttpLimits l;
        l.max_header_bytes = 1024 * 1024;  // the driver wrote it: any size it made
        l.max_header_count = 10000;
        l.max_uri_bytes = 1024 * 1024;
        l.max_trailer_bytes = 64 * 1024;
        return l;
    }();
    HttpRequestHead head;
    HeadParseResult r = parse_request_head(std::string_view(data, n), limits, head);
    if (r.status == HeadStatus::kIncomplete) return false;
    if (r.status == HeadStatus::kError) {
        LOG_WARN("h2 server %s: lbd's own request head did not parse: %s", conn_.server->name().c_str(),
                 to_string(r.error));
        cut(false);
        return false;
    }
    std::string_view authority = ex_.request.host_header;
    for (const auto& h : head.headers)
        if (iequals(h.name, "host")) authority = h.value;
    std::vector<std::string> names;
    names.reserve(head.headers.size());
    std::vector<nghttp2_nv> nva;
    nva.reserve(head.headers.size() + 5);
    nva.push_back(nv(":method", head.method_token));
    // The scheme of the hop to the server (RFC 9113 §8.3.1), not the client's.
    nva.push_back(nv(":scheme", session_->tls() != nullptr ? "https" : "http"));
    nva.push_back(nv(":authority", authority));
    nva.push_back(nv(":path", head.target));
    // gRPC servers want it; lbd handles trailers either way.
    nva.push_back(nv("te", "trailers"));
    for (size_t i = 0; i < head.headers.size(); ++i) {
        const auto& h = head.headers[i];
        if (h.hop_by_hop || dropped_request_field(h.name)) continue;
        names.push_back(lower_ascii(h.name));
        nva.push_back(nv(names.back(), h.value));
    }
    request_body_ = BodyDecoder(head, limits);
    body_done_ = request_body_.done();
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = &H2UpstreamStream::read_body;
    // A request with trailers but no body still needs a provider to end with them.
    const bool body = !body_done_ || !ex_.request_trailers.empty();
    id_ = nghttp2_submit_request(session_->session(), nullptr, nva.data(), nva.size(), body ? &provider : nullptr,
                                 this);
    evbuffer_drain(in, r.consumed);
    if (id_ < 0) {
        cut(true);  // out of stream ids: another session takes it
        return false;
    }
    head_sent_ = true;
    bufferevent_setwatermark(mine_.get(), EV_READ, 0, kPairReadHighWater);  // the body: bounded
    H2UpstreamStats::streams.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void H2UpstreamStream::pump_body() {
    evbuffer* in = bufferevent_get_input(mine_.get());
    bool added = false;
    while (!body_done_ && evbuffer_get_length(body_.get()) < kBodyBuffer) {
        evbuffer_iovec vec{};
        if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1 || vec.iov_len == 0) break;
        BodyResult r = request_body_.decode({static_cast<const char*>(vec.iov_base), vec.iov_len});
        if (r.status == BodyStatus::kError) {
            // The driver checked this framing already: lbd's own fault.
            if (id_ > 0) nghttp2_submit_rst_stream(session_->session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
            return cut(false);
        }
        evbuffer_add(body_.get(), r.data.data(), r.data.size());
        evbuffer_drain(in, r.consumed);
        added = true;
        if (r.status == BodyStatus::kDone) body_done_ = true;
    }
    if ((added || body_done_) && deferred_ && id_ > 0) {
        deferred_ = false;
        nghttp2_session_resume_data(session_->session(), id_);
    }
}

ssize_t H2UpstreamStream::read_body(nghttp2_session* s, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                                    nghttp2_data_source* source, void*) {
    auto* self = static_cast<H2UpstreamStream*>(source->ptr);
    const int n = evbuffer_remove(self->body_.get(), buf, length);
    // Room again: the rest of what waits in the pair can be decoded (from the loop).
    if (n > 0 && !self->body_done_) bufferevent_trigger(self->mine_.get(), EV_READ, BEV_TRIG_DEFER_CALLBACKS);
    if (evbuffer_get_length(self->body_.get()) == 0 && self->body_done_) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!self->ex_.request_trailers.empty()) {
            std::vector<nghttp2_nv> nva;
            for (const auto& [name, value] : self->ex_.request_trailers) nva.push_back(nv(name, value));
            if (nghttp2_submit_trailer(s, id, nva.data(), nva.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
        return std::max(n, 0);
    }
    if (n <= 0) {
        self->deferred_ = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return n;
}

// --- the response ----------------------------------------------------------------------------

void H2UpstreamStream::on_header(std::string_view name, std::string_view value) {
    if (name == ":status") {
        int status = 0;
        for (char c : value) status = c >= '0' && c <= '9' ? status * 10 + (c - '0') : 1000;
        status_ = status;
        return;
    }
    fields_.emplace_back(std::string(name), std::string(value));
}

void H2UpstreamStream::on_headers_end(nghttp2_headers_category cat, bool end_stream) {
    if (finished_) return;
    if (cat == NGHTTP2_HCAT_HEADERS && response_head_) {
        // Trailers: for the client side (h2_stream.cc), and in the chunked
        // trailer section for an HTTP/1.1 client.
        ex_.response_trailers.clear();
        for (auto& [name, value] : fields_) ex_.response_trailers.emplace_back(std::move(name), std::move(value));
        fields_.clear();
        if (end_stream) on_data_end();
        return;
    }
    if (status_ >= 100 && status_ < 200) {
        // 1xx: relayed as HTTP/1.1 interim heads; the final one follows.
        evbuffer* out = bufferevent_get_output(mine_.get());
        evbuffer_add_printf(out, "HTTP/1.1 %d \r\n", status_);
        add_fields(out, fields_);
        evbuffer_add(out, "\r\n", 2);
        fields_.clear();
        return;
    }
    write_response_head(end_stream);
}

void H2UpstreamStream::write_response_head(bool end_stream) {
    response_head_ = true;
    bool has_length = false;
    for (const auto& [name, value] : fields_)
        if (name == "content-length") {
            has_length = true;
            // nghttp2 checked it (a number, and the DATA add up to it).
            std::from_chars(value.data(), value.data() + value.size(), length_left_);
        }
    const bool bodiless = ex_.request.method_kind == HttpMethod::kHead || status_ == 204 || status_ == 304;
    // A length frames the DATA as they are (trailers, if any, go only to an
    // HTTP/2 client); else chunked, which carries trailers too. So does a
    // length of 0 before more frames: a head that ends the response would
    // leave no place for trailers (an HTTP/2 client's stream ends with it).
    // An HTTP/1.1 client that sent "TE: trailers" (an HTTP/2 client's te is
    // never copied there, h2_request_head.cc) can take them only in chunked
    // framing, and an HTTP/2 response does not say in its head whether
    // trailers follow (gRPC's do): it gets chunked, the length dropped.
    const bool empty = has_length && length_left_ == 0;
    chunked_ = (!has_length || empty || ex_.request.te_trailers) && !bodiless && !end_stream;
    // With a length, the driver ends the response at its last byte, and
    // trailers after it would come too late: the DATA that complete it wait
    // in held_ for the stream's end.
    hold_ = has_length && !chunked_ && !bodiless && !end_stream;
    evbuffer* out = bufferevent_get_output(mine_.get());
    evbuffer_add_printf(out, "HTTP/1.1 %d \r\n", status_ >= 200 && status_ <= 999 ? status_ : 502);
    if (chunked_ && has_length) std::erase_if(fields_, [](const auto& f) { return f.first == "content-length"; });
    add_fields(out, fields_);
    fields_.clear();
    if (chunked_) evbuffer_add(out, "transfer-encoding: chunked\r\n", 28);
    else if (!has_length && !bodiless) evbuffer_add(out, "content-length: 0\r\n", 19);
    evbuffer_add(out, "\r\n", 2);
    if (end_stream) finished_ = true;
}

evbuffer* H2UpstreamStream::response_output(bool held) {
    if (!held) return bufferevent_get_output(mine_.get());
    if (!held_) held_.reset(evbuffer_new());
    return held_.get();
}

void H2UpstreamStream::release_held() {
    if (held_) evbuffer_add_buffer(bufferevent_get_output(mine_.get()), held_.get());
}

void H2UpstreamStream::on_data(const uint8_t* data, size_t len) {
    if (finished_ || !response_head_) {
        nghttp2_session_consume(session_->session(), id_, len);
        return;
    }
    unconsumed_ += len;
    // The DATA that complete a content-length wait for the stream's end (write_response_head).
    const bool last = hold_ && len >= length_left_;
    length_left_ -= std::min<uint64_t>(len, length_left_);
    evbuffer* out = response_output(last);
    if (out == nullptr) return cut(false);
    if (chunked_) {
        evbuffer_add_printf(out, "%zx\r\n", len);
        evbuffer_add(out, data, len);
        evbuffer_add(out, "\r\n", 2);
    } else {
        evbuffer_add(out, data, len);
    }
}

void H2UpstreamStream::on_data_end() {
    if (finished_ || !response_head_) return;
    finished_ = true;
    release_held();
    if (!chunked_) return;
    evbuffer* out = bufferevent_get_output(mine_.get());
    evbuffer_add(out, "0\r\n", 3);
    if (ex_.request.te_trailers) {
        for (const auto& [name, value] : ex_.response_trailers)
            evbuffer_add_printf(out, "%s: %s\r\n", name.c_str(), value.c_str());
    }
    evbuffer_add(out, "\r\n", 2);
}

void H2UpstreamStream::on_response_drained(bufferevent*, void* arg) {
    auto* self = static_cast<H2UpstreamStream*>(arg);
    if (self->session_ == nullptr || self->unconsumed_ == 0 || self->id_ <= 0) return;
    // The driver took the response so far: the server may send as much again.
    nghttp2_session_consume(self->session_->session(), self->id_, self->unconsumed_);
    self->unconsumed_ = 0;
    self->session_->send();
}

void H2UpstreamStream::on_close(uint32_t error) {
    closed_ = true;
    nghttp2_session_set_stream_user_data(session_->session(), id_, nullptr);
    if (unconsumed_ != 0 && finished_) {
        // Closed: nghttp2 no longer counts the stream's window, only the connection's.
        nghttp2_session_consume_connection(session_->session(), unconsumed_);
        unconsumed_ = 0;
    }
    if (finished_) return;
    LOG_DEBUG("h2 server %s: stream %d closed (error %u) before its response ended", conn_.server->name().c_str(),
              id_, error);
    // Refused: the server did nothing with it (RFC 9113 §8.7).
    cut(error == NGHTTP2_REFUSED_STREAM && !response_head_);
}

void H2UpstreamStream::on_not_sent() {
    if (!finished_) cut(true);
}

}  // namespace lbd::l7
