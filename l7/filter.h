// The request and response filter chain of an Exchange (exchange.h), as
// Envoy's decoder/encoder filters and Pingora's request_filter /
// response_filter hooks: each filter is one small unit that sees a head
// and says continue or answer locally.
//
//   request head --> [rate limits] --> [router] --> [request headers] --> server choice
//                     429/503           redirect,    forwarding headers,   (cookie stickiness,
//                                       fixed, 404   header actions         phase 3)
//   response head -> [cookie stickiness] --> [response headers] --> client
//                     INSERT/LEARN           hide_server_headers, header actions, Via
//
// The router is the last filter that may answer; request header rewriting
// comes after it because a split route reads the stickiness cookie the
// client sent, and a local answer needs no forwarding headers.
//
// How the next features attach (issues 13-15):
//   - access control (ACLs) and authentication: request filters before the
//     rate limits (a refused client is not counted), answering 403/401 with
//     FilterResult::respond();
//   - caching: a request filter before the router that answers a hit with
//     the stored response, and a response filter that stores a cacheable one
//     (the body through the data events of the codec, issue 11 part 4);
//   - compression: a response filter that rewrites Content-Encoding and
//     framing on the head (Accept-Encoding is on the Exchange's request),
//     then transforms the body data.
// A filter needing per-request state keeps it on the Exchange (as
// StickyRequest does), not in itself: one filter object serves every
// exchange of its listener on its worker.
//
// Filters are built per listener per worker (HttpListener), so they may
// hold worker-local state; worker thread only. No allocation on the
// continue path: a result carries strings only when it answers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "l7/exchange.h"
#include "l7/http_message.h"
#include "l7/proxy_types.h"

namespace lbd::l7 {

// A response lbd writes itself instead of asking a server.
struct LocalAnswer {
    int status = 0;
    std::string content_type;
    std::string body;
    HeaderList headers;  // extra fields, e.g. Location, Retry-After, Allow
    Termination term = Termination::kLocal;
    bool close = false;  // close the connection after it, whatever the request asked
    std::string reason;  // why, for the access log's reason= ("acl:office"); empty = none
};

struct FilterResult {
    enum class Action : uint8_t { kContinue, kRespond };
    Action action = Action::kContinue;
    LocalAnswer answer;  // when kRespond

    static FilterResult next() { return {}; }
    static FilterResult respond(LocalAnswer answer) { return {Action::kRespond, std::move(answer)}; }
    bool responds() const { return action == Action::kRespond; }
};

// Runs on a request head (the Exchange's request, route matched) before a
// server is chosen; may rewrite the request, set the pool, or answer.
class RequestFilter {
public:
    virtual ~RequestFilter() = default;
    virtual FilterResult on_request_head(Exchange& exchange) = 0;
};

// Runs on a server's final response head (not 1xx, not 101) before it goes
// to the client; may rewrite it, or answer instead (the server's response
// is then dropped with its connection).
class ResponseFilter {
public:
    virtual ~ResponseFilter() = default;
    virtual FilterResult on_response_head(Exchange& exchange) = 0;
};

// The ordered filters of one listener.
class FilterChain {
public:
    void add(std::unique_ptr<RequestFilter> filter) { request_.push_back(std::move(filter)); }
    void add(std::unique_ptr<ResponseFilter> filter) { response_.push_back(std::move(filter)); }

    // Each filter in order until one answers; that answer, or next().
    FilterResult on_request_head(Exchange& exchange) const {
        for (const auto& filter : request_)
            if (FilterResult r = filter->on_request_head(exchange); r.responds()) return r;
        return FilterResult::next();
    }
    FilterResult on_response_head(Exchange& exchange) const {
        for (const auto& filter : response_)
            if (FilterResult r = filter->on_response_head(exchange); r.responds()) return r;
        return FilterResult::next();
    }

private:
    std::vector<std::unique_ptr<RequestFilter>> request_;
    std::vector<std::unique_ptr<ResponseFilter>> response_;
};

}  // namespace lbd::l7
