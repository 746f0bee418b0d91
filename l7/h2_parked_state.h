// What an idle HTTP/2 client connection keeps while parked (parked_client.h)
// without its nghttp2 session, and the per-connection rate budgets that ride
// in it.
//
// Why: an idle HTTP/2 connection's nghttp2 session and lbd's objects around
// it are ~12 KB (bench/README.md, "Where an idle HTTP/2 connection's bytes
// go"); HAProxy and NGINX hold ~6 KB. Parked, the connection holds these
// few dozen bytes, and a new session is built from them when the client's
// next bytes come (H2Connection::resume, h2_connection_park.cc).
//
// Worker thread only.
#pragma once

#include <cstdint>

namespace lbd::l7 {

// A token bucket per connection: `rate` tokens a second, bursts of twice
// as many.
class H2RateBudget {
public:
    explicit H2RateBudget(uint32_t rate);
    // One token; false when there is none left.
    bool take();

private:
    double rate_;
    double tokens_;
    uint64_t refill_ms_;
};

struct H2ParkedState {
    H2ParkedState(const H2RateBudget& resets, const H2RateBudget& control_frames)
        : resets(resets), control_frames(control_frames) {}

    // The client's settings (nghttp2_session_get_remote_settings), in
    // the order of their identifiers 1-6, and NO_RFC7540_PRIORITIES (9).
    static constexpr int kRemoteSettings = 7;
    uint32_t remote_settings[kRemoteSettings] = {};
    // The connection window the client granted lbd (at least 65,535: a new
    // session starts there and a fed WINDOW_UPDATE only raises it).
    int32_t send_window = 0;
    // The highest stream id the client opened: a late frame on it is one
    // for a closed stream, not for an idle one, and lower ids stay spent.
    int32_t last_stream_id = 0;
    uint32_t glitches = 0;
    // The idle timeout (monotonic_ms), which waking does not reset.
    uint64_t idle_deadline_ms = 0;
    // The budgets go on where they were: parking does not refill them.
    H2RateBudget resets;
    H2RateBudget control_frames;
};

}  // namespace lbd::l7
