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
// Writes go through too, when the owner says its callback is done:
// libevent's bufferevent adds its write event (an epoll_ctl) when bytes
// are queued and deletes it (another) once they are sent, so a small
// response costs two epoll_ctl and one more loop turn per side. A plain
// stream here keeps EV_WRITE off; flush_output() sends what the callback
// queued with one writev and turns EV_WRITE on only when the socket did
// not take it all (libevent sends the rest and calls the write callback,
// as before). A flush that empties the output runs the write callback
// too (deferred), as libevent's own write would.
//
// A TLS client stream (l7/tls_stream.h) does the same through OpenSSL: the
// functions below hand it over. A server's TLS stream is a
// bufferevent_openssl: enable_stream() and flush_output() leave it to
// libevent.
#pragma once

#include <event2/bufferevent.h>

namespace lbd::l7 {

// Call after the bufferevent has its socket: after bufferevent_socket_new
// with an fd, and after bufferevent_socket_connect (which re-creates the
// read event). Keeps the event's pending state. Any other kind of
// bufferevent (TLS) is left as it is.
void use_large_io(bufferevent* bev);

// Reads what already waits on a just-accepted socket now rather than
// after a loop turn (a client's request usually comes right behind its
// handshake; HAProxy reads speculatively too). Callbacks stay deferred.
void read_now(bufferevent* bev);

// Turns reading on, and writing for streams that do not write through.
void enable_stream(bufferevent* bev);

// Sends what the output of a plain or TLS client stream holds (see above).
// For a bufferevent_openssl (a server's TLS stream), joins a small output
// into one piece so that libevent writes it as one TLS record; nullptr:
// nothing. Call at the end of each callback that may write.
void flush_output(bufferevent* bev);

}  // namespace lbd::l7
