// What the "http" health probe (probe_http.cc) makes of a server's answer, apart from the socket:
// the bytes go in as they arrive, a verdict comes out as soon as the answer allows one. The
// answer is read with the HTTP/1 grammar the proxy uses (core/http1), so a response the proxy
// would refuse (a 502 for a client) fails the check too, with the grammar's reason.
//
// Like HAProxy's http-check it reads only as far as it must: the head (interim 1xx heads are
// skipped, RFC 9110 §15.2), and the body only when body_contains asks for it, de-chunked (a word
// may straddle two chunks) until the word is seen, the body ends, the server closes, or
// kMaxResponse bytes came. Bytes after the decision are not looked at.
//
// Pure logic, no I/O: one reader per check, on the control thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/http1/body.h"
#include "core/http1/parser.h"

namespace lbd {

struct HttpCheckVerdict {
    enum class State { kPending, kHealthy, kUnhealthy };
    State state = State::kPending;
    // For the log line of a state change: "HTTP 200", "HTTP 500", "body lacks 'ok'",
    // "bad response: bare LF".
    std::string why;

    bool decided() const { return state != State::kPending; }
};

class HttpCheckReader {
public:
    // At most this much of a response is read: a health check needs the head and a bounded body.
    static constexpr size_t kMaxResponse = 64 * 1024;

    // `config` must outlive the reader (it belongs to the pool's configuration, as the probe does).
    explicit HttpCheckReader(const HttpCheckConfig& config);
    HttpCheckReader(const HttpCheckConfig&& config) = delete;

    // Appends `bytes` (at most room() of them) and decides if it can. `eof`: nothing more will
    // come (the server closed). Once decided, the same verdict is returned again.
    const HttpCheckVerdict& feed(std::string_view bytes, bool eof);
    // How many more bytes feed() takes.
    size_t room() const { return kMaxResponse - response_.size(); }

private:
    bool read_heads(bool eof);
    void read_body(bool eof);
    bool body_matches(std::string_view data);
    void decide(HttpCheckVerdict::State state, std::string why);
    void fail_grammar(http1::HttpError error);

    const HttpCheckConfig& config_;
    const http1::HttpMethod method_;
    http1::HttpLimits limits_;
    std::string response_;
    size_t head_begin_ = 0;  // where the head being read starts (past interim heads)
    http1::HeadScanState scan_;
    http1::HttpResponseHead head_;
    bool head_done_ = false;
    int status_ = 0;
    http1::BodyDecoder body_decoder_;
    size_t body_begin_ = 0;  // response_ bytes before this went through body_decoder_
    std::string body_;       // de-chunked body so far, searched for body_contains
    HttpCheckVerdict verdict_;
};

}  // namespace lbd
