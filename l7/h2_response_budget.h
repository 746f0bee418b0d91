// The response bytes one HTTP/2 client connection holds across its
// streams: what their drivers took from the servers and nghttp2 has not yet
// framed for the client (each H2Stream's response_out_).
//
// Each stream stops at its own high water (kBodyHighWater) as an HTTP/1
// response does, but a connection carries up to max_concurrent_streams of
// them, and with RFC 9218 scheduling it sends one after another: a wave of
// 100 streams of 64 KiB responses would sit whole in lbd's heap while the
// first goes out. Past kH2ConnectionResponseBudget, a stream that holds
// bytes takes no more and its server is not read at all (the rest waits in
// the server's socket, its window, or its HTTP/2 flow control); the stream
// waits here. Once the connection has sent down to half the budget, the
// waiting streams are woken, lowest id first (the oldest request, the one
// nghttp2 serves first among equal urgency), each taking what the budget
// then allows.
//
// Nothing stalls on it: a stream that holds nothing may always read, so the
// stream nghttp2 wants to send next is never starved by bytes of streams the
// client does not take (their windows closed). Over the budget, a
// connection's streams hold at most one server read each, a small one
// (< 16 KiB, H2Stream::server_read) while the budget is spent,
// besides it.
//
// Worker thread only.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lbd::l7 {

class H2Stream;

constexpr size_t kH2ConnectionResponseBudget = 512 * 1024;

class H2ResponseBudget {
public:
    // `gauge`: the listener's lbd_http2_response_buffered_bytes, kept in step.
    explicit H2ResponseBudget(std::atomic<int64_t>& gauge) : gauge_(gauge) {}
    H2ResponseBudget(const H2ResponseBudget&) = delete;
    H2ResponseBudget& operator=(const H2ResponseBudget&) = delete;
    ~H2ResponseBudget() { gauge_.fetch_sub(static_cast<int64_t>(held_), std::memory_order_relaxed); }

    // A stream's held bytes went from `before` to `after`.
    void update(size_t before, size_t after) {
        if (before == after) return;
        held_ += after - before;  // modular: a decrease wraps back
        gauge_.fetch_add(static_cast<int64_t>(after) - static_cast<int64_t>(before), std::memory_order_relaxed);
    }
    size_t held() const { return held_; }
    bool spent() const { return held_ >= kH2ConnectionResponseBudget; }

    // `stream` holds bytes and may take no more until woken.
    void wait(H2Stream* stream) {
        if (std::find(waiting_.begin(), waiting_.end(), stream) == waiting_.end()) waiting_.push_back(stream);
    }
    void forget(H2Stream* stream) { std::erase(waiting_, stream); }
    // The streams to wake now (empty until the connection sent down to half
    // the budget), oldest first; the list is left empty. `order`: a
    // stream's id.
    template <typename Id>
    std::vector<H2Stream*>& wake(Id order) {
        woken_.clear();
        if (waiting_.empty() || held_ > kH2ConnectionResponseBudget / 2) return woken_;
        woken_.swap(waiting_);
        std::sort(woken_.begin(), woken_.end(), [&](H2Stream* a, H2Stream* b) { return order(a) < order(b); });
        return woken_;
    }

private:
    std::atomic<int64_t>& gauge_;
    size_t held_ = 0;
    std::vector<H2Stream*> waiting_;
    std::vector<H2Stream*> woken_;  // wake()'s result, kept for its capacity
};

}  // namespace lbd::l7
