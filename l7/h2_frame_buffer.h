// The memory functions (nghttp2_mem) of the HTTP/2 client sessions
// (h2_connection.h): one outbound frame buffer per worker thread instead of
// one per connection.
//
// Why: nghttp2 gives each session a 16 KiB buffer (NGHTTP2_FRAMEBUF_CHUNKLEN:
// a frame header, a pad length byte and a 16 KiB payload) for the frame it
// is sending, kept for the session's life: most of the memory of an idle
// HTTP/2 connection. nghttp2_session_mem_send() packs a frame into it and
// returns a pointer to it; the next call only moves on from it, and
// H2Connection::flush() copies each frame into the socket's buffer before
// anything else runs on the thread. So between two calls the buffer holds
// nothing anyone reads, and the sessions of a thread can take turns on one.
// Only the buffer each session allocates first (at nghttp2_session_new, its
// one kept chunk, asked for as realloc(NULL, size) by nghttp2 1.52) is the
// shared one; the chunks a header block over 16 KiB
// adds (CONTINUATION frames) are the session's own, freed after it is sent.
// A size nghttp2 does not ask for (another version's) shares nothing.
//
// Worker thread only (the buffer is per thread).
#pragma once

#include <nghttp2/nghttp2.h>

namespace lbd::l7 {

// Per session: whether it holds the thread's frame buffer. nghttp2 copies
// the nghttp2_mem, whose mem_user_data points here; keep it as long as the
// session.
struct H2SessionMemory {
    bool has_frame_buffer = false;
    nghttp2_mem functions();
};

}  // namespace lbd::l7
