// H2Stream, how its response bytes reach nghttp2 (h2_stream.h): the
// connection's response budget (h2_response_budget.h), the size of the
// server's reads, the data provider nghttp2 pulls DATA from, and RFC 9218
// order: a long response shares its connection with newer ones.
#include <algorithm>

#include "l7/h2_connection.h"
#include "l7/h2_stream.h"

namespace lbd::l7 {

uint64_t H2Stream::connection_sent_ms() const { return conn_.last_sent_ms(); }

ResponseRoom H2Stream::response_room(size_t high_water) {
    count_held();
    if (held_ >= high_water) return ResponseRoom::kFull;
    // Holding nothing, a stream may always read (h2_response_budget.h).
    H2ResponseBudget& budget = conn_.response_budget();
    if (held_ == 0 || !budget.spent()) return ResponseRoom::kTake;
    budget.wait(this);
    return ResponseRoom::kHold;
}

// Past the budget, a stream that holds nothing may still read
// (h2_response_budget.h): a small piece. Before its response has begun,
// too, on a connection with many streams: a read is sized when the
// watermark is set and made later, and the first takes the head and the
// body that came with it, the whole of a 64 KiB response, so 100 streams
// asked at once (h2load -m100) would each take theirs before the budget
// could stop any (bench/README.md). Up to kFullFirstReadStreams streams,
// their full first reads hold at most twice the budget, and a small one
// would cost a read more per response (h2load -m10, 64 KiB: 6-12% of req/s).
ServerRead H2Stream::server_read() {
    if (conn_.response_budget().spent()) return ServerRead::kSmall;
    const bool many = conn_.stream_count() > kFullFirstReadStreams;
    return many && !ex_->response_started ? ServerRead::kSmall : ServerRead::kFull;
}

void H2Stream::count_held() {
    const size_t now = evbuffer_get_length(response_out_.get());
    conn_.response_budget().update(held_, now);
    held_ = now;
}

void H2Stream::response_data_added() {
    count_held();
    if (!deferred_ || closed_) return;
    deferred_ = false;
    nghttp2_session_resume_data(conn_.session(), id_);
}

// The payload of the next DATA frame: up to `length` of the bytes held,
// counted here and moved by send_body once nghttp2 has written the frame's
// header (NGHTTP2_DATA_FLAG_NO_COPY). Copying them into nghttp2's frame
// buffer and from it into the output was two memcpy of every response
// byte; a move takes the server read's evbuffer chain itself when a frame
// ends with it, and one copy otherwise.
ssize_t H2Stream::read_body(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* data_flags,
                            nghttp2_data_source* source, void*) {
    auto* self = static_cast<H2Stream*>(source->ptr);
    const size_t have = evbuffer_get_length(self->response_out_.get());
    const size_t n = std::min(length, have);
    if (n > 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        self->data_sent_ += n;
        if (self->data_sent_ >= kLongResponseBytes && !self->shared_) self->share_long_response();
    }
    if (n == have && self->response_eof_) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!self->trailers_.empty() && self->submit_trailers()) *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        return static_cast<ssize_t>(n);
    }
    if (n == 0) {
        self->deferred_ = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
}

bool H2Stream::send_body(evbuffer* out, size_t length) {
    if (evbuffer_remove_buffer(response_out_.get(), out, length) != static_cast<int>(length)) return false;
    conn_.stream_drained(this);
    count_held();
    // Streams that stopped at the budget refill once it has room (after this send round).
    for (H2Stream* waiting : conn_.response_budget().wake([](H2Stream* s) { return s->id(); }))
        conn_.stream_drained(waiting);
    return true;
}

// A connection's responses go one after another (RFC 9218's default for a
// client that says nothing: same urgency, not incremental; h2_connection.cc),
// which serves a page's many small responses soonest. But a download of
// a gigabyte would then hold back every later request on its connection
// until it ends (curl's or a program's multiplexed requests, a browser
// that sends no `priority`), where RFC 7540's round robin, NGINX's and
// HAProxy's way, interleaves. So past kLongResponseBytes a response turns
// incremental: a newer stream of the same urgency, not incremental, goes
// first from its next frame to its end, and incremental ones take turns
// with it (nghttp2 1.52 orders a level's streams by bytes sent, oldest
// first on ties). A client that orders its streams itself (a `priority`
// field, PRIORITY_UPDATE frames) is left as it asked.
void H2Stream::share_long_response() {
    shared_ = true;
    if (client_priority_ || conn_.client_orders_streams()) return;
    const nghttp2_extpri incremental{NGHTTP2_EXTPRI_DEFAULT_URGENCY, 1};
    nghttp2_session_change_extpri_stream_priority(conn_.session(), id_, &incremental, 0);
}

}  // namespace lbd::l7
