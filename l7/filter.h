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
//     FilterResult::respond(); a password check pauses the exchange while a
//     thread pool hashes (FilterResult::pause(), Exchange::resumer());
//   - caching: a request filter after the router (`cache:` is per route)
//     that answers a hit with the stored response and pauses a miss that
//     waits for another request's fill, and the last response filter, whose
//     body stage keeps a copy of what the client gets;
//   - compression: a response filter before the cache's that rewrites
//     Content-Encoding, Vary and ETag on the head and adds a body stage.
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
#include "l7/filter_result.h"
#include "l7/http_message.h"
#include "l7/proxy_types.h"

namespace lbd::l7 {

// Runs on a request head (the Exchange's request, route matched) before a
// server is chosen; may rewrite the request, set the pool, or answer. A
// filter whose decision needs work off the event loop (a password hash) or
// another request's outcome (a cache fill) returns pause() and later calls
// exchange.resumer() once, on the worker thread (filter_result.h).
class RequestFilter {
public:
    virtual ~RequestFilter() = default;
    virtual FilterResult on_request_head(Exchange& exchange) = 0;
};

// Runs on a server's final response head (not 1xx, not 101) before it goes
// to the client; may rewrite it, or answer instead (the server's response
// is then dropped with its connection). A filter that transforms or keeps
// the body adds a stage to exchange.body_filters (body_filter.h); one that
// changes the body's length removes Content-Length from the head.
class ResponseFilter {
public:
    virtual ~ResponseFilter() = default;
    virtual FilterResult on_response_head(Exchange& exchange) = 0;
    // The server failed before any response head (no connection, a broken
    // one, a timeout): respond() to answer in place of `error`'s status (the
    // cache's stale-if-error); next() lets the error stand.
    virtual FilterResult on_server_failure(Exchange&, const ProxyError&) { return FilterResult::next(); }
};

// The ordered filters of one listener.
class FilterChain {
public:
    void add(std::unique_ptr<RequestFilter> filter) { request_.push_back(std::move(filter)); }
    void add(std::unique_ptr<ResponseFilter> filter) { response_.push_back(std::move(filter)); }

    // Each filter in order, from the one after the last that paused, until
    // one answers or pauses; that result, or next(). A pause keeps the
    // place on the exchange, so its resumer goes on with the next filter.
    FilterResult on_request_head(Exchange& exchange) const {
        while (exchange.next_request_filter < request_.size()) {
            FilterResult r = request_[exchange.next_request_filter++]->on_request_head(exchange);
            if (r.action != FilterResult::Action::kContinue) return r;
        }
        return FilterResult::next();
    }
    FilterResult on_response_head(Exchange& exchange) const {
        for (const auto& filter : response_)
            if (FilterResult r = filter->on_response_head(exchange); r.responds()) return r;
        return FilterResult::next();
    }
    // The first answer a response filter gives in place of a server failure, or next().
    FilterResult on_server_failure(Exchange& exchange, const ProxyError& error) const {
        for (const auto& filter : response_)
            if (FilterResult r = filter->on_server_failure(exchange, error); r.responds()) return r;
        return FilterResult::next();
    }

private:
    std::vector<std::unique_ptr<RequestFilter>> request_;
    std::vector<std::unique_ptr<ResponseFilter>> response_;
};

}  // namespace lbd::l7
