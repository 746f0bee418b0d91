// Reads and writes of plain-TCP bufferevents in large pieces.
//
// libevent 2.1's socket bufferevent reads at most 4096 bytes per readv
// (EVBUFFER_MAX_READ; 2.2 made it settable) and asks FIONREAD before each
// one. A 1 MiB response then costs 256 readv + 256 ioctl on the server side,
// and every small request one ioctl per side. use_large_io() gives the
// bufferevent's read event our callback, which reads up to 64 KiB (never
// past the read high watermark) straight into the input evbuffer, without
// the ioctl. Everything else stays libevent's: enabling and disabling, the
// watermark suspension (the input buffer's callback), timeouts, the
// deferred read/event callbacks and the bufferevent's teardown. Writes go
// out up to 256 KiB per writev rather than libevent's default 16 KiB.
//
// Plain sockets only: a TLS bufferevent reads through OpenSSL.
#pragma once

#include <event2/bufferevent.h>

namespace lbd::l7 {

// Call after the bufferevent has its socket: after bufferevent_socket_new
// with an fd, and after bufferevent_socket_connect (which re-creates the
// read event). Keeps the event's pending state.
void use_large_io(bufferevent* bev);

}  // namespace lbd::l7
