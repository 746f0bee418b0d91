// One request and its response: everything that lives exactly as long as
// one exchange between a client and (maybe) a server. Created when a request
// head is read (or refused, or timed out: anything that makes an access-log
// line), destroyed when its response has ended and the line is written.
// The connection (HttpSession) keeps only what outlives a request: the
// stream, listener, endpoint, keep-alive and parking, timers.
//
// Destroying an Exchange gives back what it holds: its server connection is
// closed (unless response_complete() put it into the worker's idle pool
// first) and its server slot released. Nothing has to be reset by hand
// between two requests on one connection.
//
// Memory: an HTTP/1 HttpSession holds its one Exchange in storage made at
// its first request and kept for the next (ExchangeSlot, exchange_slot.h),
// so a request costs no allocation for it: HTTP/1 carries one exchange at a
// time. An HTTP/2 connection carries none of its own; each stream
// (h2_stream.h) has its exchange.
//
// Worker thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/balance/pool.h"
#include "core/balance/server.h"
#include "l7/body_filter.h"
#include "l7/cache_state.h"
#include "l7/cookie_sticky.h"
#include "l7/filter_result.h"
#include "l7/http1.h"
#include "l7/http_message.h"
#include "l7/proxy_error.h"
#include "l7/static_files.h"
#include "l7/upstream.h"
#include "l7/variables.h"

namespace lbd::l7 {

struct Exchange {
    // `client`: the connection's endpoint (outlives the exchange);
    // `start_ms`: when its head began (monotonic), for time_ms and the
    // request-duration histogram.
    Exchange(const ClientEndpoint& client, uint64_t start_ms) : client(client), start_ms(start_ms) {}
    ~Exchange() {
        // A body that did not reach its end: the stages drop what they held.
        if (!response_done)
            for (auto& stage : body_filters) stage->on_abort();
        release_server();
    }
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    // Closes the server connection (if still held) and gives the server's
    // slot back (if one is held).
    // The last attempt was a reused connection the server closed, and is
    // retried once on a new connection (README "Retries").
    bool fresh_connection_only() const {
        return last_error && last_error->cause == ErrorCause::kServerClosed && last_error->retryable;
    }

    void release_server() {
        upstream.reset();
        if (server != nullptr) {
            server->release_slot();
            server = nullptr;
        }
    }

    // Where the request came from (peer, local port, scheme).
    const ClientEndpoint& client;

    // The request, owned (copy_request), rewritten by the request filters.
    RequestInfo request;
    BodyDecoder request_body;       // checks the request body's framing on its way
    bool request_body_done = true;  // the whole body (if any) read from the client
    // Trailer fields of an HTTP/2 client's request (for an HTTP/2 server, or
    // an HTTP/1.1 one in the chunked trailer section: http_exchange.cc),
    // and an HTTP/2 server's response trailers (h2_upstream.h).
    HeaderList request_trailers;
    HeaderList response_trailers;

    // The request filters (filter.h): the next one to run, which is where a
    // paused chain goes on; and the pause itself, if a filter paused.
    size_t next_request_filter = 0;
    std::shared_ptr<ResumeSlot> pause;
    ResumeTarget* driver = nullptr;  // what drives this exchange (its ExchangeDriver), set at its start
    // Taken by a filter that pauses: the handle it calls once with its
    // decision (filter_result.h).
    ExchangeResumer resumer() {
        pause = std::make_shared<ResumeSlot>(ResumeSlot{driver});
        return ExchangeResumer(pause);
    }

    // Where it goes (phases 2-3).
    const HttpRouteConfig* route = nullptr;  // null: no route matched (default pool)
    RegexGroups groups;                      // the route regex's $1..$9 (offsets into the path or host)
    std::string original_path;               // set when the route rewrote the path: as the client sent it
    RequestId request_id;                    // empty until made (variables.h)
    Pool* pool = nullptr;
    StickyRequest sticky;                  // cookie stickiness (cookie_sticky.h)
    CacheRequest cache;                    // the response cache (cache_filter.h)
    std::shared_ptr<Server> server;        // holds one of its slots while set
    std::vector<const Server*> tried;      // servers that failed or were full
    std::unique_ptr<UpstreamConn> upstream;
    // The last server-side failure of this exchange (proxy_error.h), which
    // decides the next attempt.
    std::optional<ProxyError> last_error;
    bool server_bytes = false;  // some response byte came on `upstream`
    bool server_eof = false;

    // The response (phases 5-6).
    HeadScanState response_scan;  // the head is parsed into the worker's response_head()
    bool response_started = false;  // the final head went to the client
    bool response_done = false;
    ResponseInfo response;
    ClientFraming framing = ClientFraming::kNone;
    BodyDecoder response_body;
    // Stages the response body goes through (body_filter.h), added by the
    // response filters; and their input buffers (stage i reads
    // body_stages[i], the last writes body_stages.back()), made only when
    // there are stages.
    std::vector<std::unique_ptr<ResponseBodyFilter>> body_filters;
    std::vector<std::unique_ptr<evbuffer, void (*)(evbuffer*)>> body_stages;
    StaticFileBody file;  // a static_files route's file, while its body goes out
    bool client_shut = false;  // tunnel: write side shut
    bool server_shut = false;

    // For the access log.
    std::string server_label;  // "pool/server" of the last server tried
    std::string reason;        // why a filter answered, e.g. "acl:office" (reason= in the log)
    int status = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t start_ms = 0;
    uint64_t connect_start_ms = 0;
    int64_t connect_ms = -1;  // 0: a reused connection (or a fast new one); -1: no connect
    bool reused_connection = false;  // the last server connection was an idle one (conn=reused)
    uint64_t request_sent_ms = 0;
    int64_t header_ms = -1;
};

}  // namespace lbd::l7
