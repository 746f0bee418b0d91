// ExchangeDriver, part 3: a static_files route's answer (static_files.h)
// in place of a server's. The response filters run on its head as on a
// server's (header actions, hide_server_headers, compression), and the body
// goes out in pieces as the client drains: memory stays bounded whatever
// the file's size, and the loop never waits on more than one piece's read.
#include <ctime>

#include "l7/exchange_driver.h"
#include "l7/http_listener.h"
#include "l7/route_filter.h"
#include "l7/static_files.h"

namespace lbd::l7 {
namespace {

// A piece of the file is queued while the client's output holds less than
// the client high water (exchange_driver.h): at most that plus one piece per response in memory (none of
// it with sendfile).
constexpr size_t kFilePiece = 64 * 1024;

}  // namespace

void ExchangeDriver::serve_static() {
    Exchange& ex = *ex_;
    const HttpStaticFiles& config = ex.route->static_files;
    if (ex.request.method_kind != HttpMethod::kGet && ex.request.method_kind != HttpMethod::kHead) {
        static const HeaderList allow{{"Allow", "GET, HEAD"}};
        return client_.respond_local(405, "text/plain; charset=utf-8", "405 Method Not Allowed\n", allow,
                                     Termination::kLocal, false);
    }
    OpenedFile file = open_static_file(config, ex.request.path);
    // Absent, outside the root, not a regular file: the same 404 for all.
    if (!file.fd) return client_.respond_error(404, Termination::kLocal);
    StaticAnswer answer = static_answer(config, ex.request, file.name, file.st, time(nullptr));
    ex.response = std::move(answer.response);
    ex.response_body = answer.length != 0 ? BodyDecoder(BodyFraming::kContentLength, answer.length, HttpLimits{})
                                          : BodyDecoder();
    ex.file.fd = std::move(file.fd);
    ex.file.offset = answer.offset;
    ex.file.remaining = answer.length;
    if (FilterResult r = listener_.filters().on_response_head(ex); r.responds()) return respond(r.answer);
    if (!make_body_stages()) return client_.respond_error(503, Termination::kLocalError);
    state_ = State::kFile;
    client_.send_response_head(ex);
    if (ex_ == nullptr) return;
    timer_.arm(Timer::kBodyIdle, effective_timeouts(http_, ex).body_idle_ms);
    pump_file();
}

void ExchangeDriver::pump_file() {
    Exchange& ex = *ex_;
    if (ex.response_done) return;
    // Through the body stages (compression) the pieces are read into the
    // first stage and the stages run on each; without, they go to the
    // client as they are (Content-Length framing), by sendfile when the
    // output drains to a plain socket.
    const bool staged = !ex.body_filters.empty();
    evbuffer* client_out = client_.response_output();
    evbuffer* out = staged ? ex.body_stages.front().get() : client_out;
    const bool to_socket = !staged && client_.writes_to_socket();
    const size_t high_water = staged ? kStagedBodyHighWater : kBodyHighWater;
    bool moved = false;
    while (ex.file.remaining > 0 && evbuffer_get_length(client_out) < high_water) {
        const int64_t n = queue_file_piece(ex.file, out, kFilePiece, to_socket);
        // A read error, or a file truncated since its stat: the
        // Content-Length sent cannot be kept.
        if (n <= 0) return client_.abort(Termination::kLocalError);
        moved = true;
        if (!staged) {
            ex.bytes_out += static_cast<uint64_t>(n);
        } else if (!run_body_stages(BodyProgress::kMoreReadable)) {  // a file: the rest is there
            return client_.abort(Termination::kLocalError);
        }
    }
    if (moved) {
        timer_.progress();
        if (!staged) client_.response_data_added();
    }
    if (ex.file.remaining > 0) return;
    if (staged && !run_body_stages(BodyProgress::kEnd)) return client_.abort(Termination::kLocalError);
    ex.response_done = true;
    timer_.stop();
    state_ = State::kIdle;
    client_.response_done(Termination::kOk);
}

}  // namespace lbd::l7
