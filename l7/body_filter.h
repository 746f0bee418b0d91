// A stage of a response body: made per exchange by a response filter on
// the head (filter.h), fed the body as it streams. Compression transforms
// it; the cache keeps a copy of it on its way.
//
// The session de-frames the server's body, runs the stages in the order of
// the response filters that added them (the output of one is the input of
// the next), and frames the last stage's output for the client: as it is
// if the head still has Content-Length, else chunked to an HTTP/1.1 client
// and until close to an HTTP/1.0 one. Back-pressure holds: no server bytes
// are taken while the client's output is above its high-water mark, so a
// stage sees at most one read's worth at a time and memory stays bounded.
//
// Worker thread only.
#pragma once

#include <event2/buffer.h>

namespace lbd::l7 {

class ResponseBodyFilter {
public:
    virtual ~ResponseBodyFilter() = default;
    // `in`: body bytes (no chunk syntax) from the server or the stage
    // before; take what is used from it and append the output to `out`.
    // `end`: the body is complete; flush everything. False: an internal
    // failure (lbd's, not the server's): the response is cut and logged.
    virtual bool on_body(evbuffer* in, evbuffer* out, bool end) = 0;
    // The body did not complete (the client or the server went away, or a
    // stage failed): drop what is held (a cache discards its partial copy).
    virtual void on_abort() {}
};

}  // namespace lbd::l7
