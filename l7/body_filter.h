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
// A stage may keep bytes in its input (unread) until a later call: the
// one-shot gzip does, up to its cap, and says so in its memory figures.
//
// Worker thread only.
#pragma once

#include <event2/buffer.h>

#include <cstdint>

namespace lbd::l7 {

// Where the body stands when the stages run: what a stage holding bytes
// (a body kept whole for one-shot compression) should do with them.
enum class BodyProgress : uint8_t {
    // More is readable now (in lbd's buffers, the socket, OpenSSL, a file):
    // the session will call again without waiting, so holding costs nothing.
    kMoreReadable,
    // The server has sent nothing more yet: let out what is held, so a slow
    // or streaming origin's bytes reach the client before it finishes.
    kWaiting,
    // The body is complete: flush everything.
    kEnd,
};

class ResponseBodyFilter {
public:
    virtual ~ResponseBodyFilter() = default;
    // `in`: body bytes (no chunk syntax) from the server or the stage
    // before; take what is used from it and append the output to `out`.
    // `progress`: see BodyProgress. False: an internal failure (lbd's, not
    // the server's): the response is cut and logged.
    virtual bool on_body(evbuffer* in, evbuffer* out, BodyProgress progress) = 0;
    // It keeps body bytes back until the server pauses (the one-shot gzip):
    // only then is kMoreReadable vs kWaiting worth finding out (a recv peek
    // per batch); the other stages tell only kEnd apart.
    virtual bool holds_body() const { return false; }
    // The body did not complete (the client or the server went away, or a
    // stage failed): drop what is held (a cache discards its partial copy).
    virtual void on_abort() {}
};

}  // namespace lbd::l7
