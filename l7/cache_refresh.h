// stale-while-revalidate's background refresh: an Exchange with no client.
// A request that finds its entry stale but within its
// stale-while-revalidate window gets that entry at once (UPDATING); the
// first such request also starts one CacheRefresh, which sends the request
// again (GET, conditional on the entry's ETag / Last-Modified) through an
// ExchangeDriver of its own, like any client's: routing, filters, the
// server, retries. Its response goes through the same response filters,
// so the CacheStoreFilter stores it (a 200) or refreshes the entry (a 304);
// what the driver would send a client is dropped. The refresh holds the
// key's fill (CacheFillTicket) while it runs, so concurrent requests for
// the entry start no second one.
//
// Worker thread only; owned by the CacheLookupFilter of its listener on its
// worker (CacheRefreshes), which starts each from the loop and frees it from
// the loop once it ended; those still running when the listener goes are
// dropped with it (the fill ends: the next request tries again).
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "core/loop/event.h"
#include "l7/client_side.h"
#include "l7/exchange.h"
#include "l7/exchange_driver.h"

namespace lbd::l7 {

class L7Worker;
class HttpListener;

class CacheRefresh final : public ClientSide {
public:
    // `client`: where the request that found the entry stale came from
    // (rate limits, access rules and balancing see the same client).
    CacheRefresh(L7Worker& worker, HttpListener& listener, const ClientEndpoint& client);
    ~CacheRefresh() override;
    CacheRefresh(const CacheRefresh&) = delete;
    CacheRefresh& operator=(const CacheRefresh&) = delete;

    // The exchange to set up before start() (cache_prepare_refresh).
    Exchange& exchange() { return ex_; }
    void start();
    bool started() const { return started_; }
    bool done() const { return done_; }

    // ClientSide: nothing reaches a client; every end of the exchange is done().
    evbuffer* request_input() override { return input_.get(); }
    bool request_input_ended() const override { return true; }
    evbuffer* response_output() override { return output_.get(); }
    void send_interim(Exchange&, const ResponseInfo&) override {}
    void send_response_head(Exchange& ex) override;
    void respond_local(int, const std::string&, const std::string&, const HeaderList&, Termination, bool) override {
        finish();
    }
    void respond_stored(const LocalAnswer&) override { finish(); }
    void respond_error(int, Termination) override { finish(); }
    void response_done(Termination) override { finish(); }
    void abort(Termination) override { finish(); }
    void response_data_added() override;
    bool draining() const override { return false; }
    void flush() override {}

private:
    void finish();

    ClientEndpoint client_;  // before ex_, which refers to it
    Exchange ex_;
    ExchangeDriver driver_;
    std::unique_ptr<evbuffer, decltype(&evbuffer_free)> input_;
    std::unique_ptr<evbuffer, decltype(&evbuffer_free)> output_;
    std::function<void()> on_done_;
    bool started_ = false;
    bool done_ = false;

    friend class CacheRefreshes;
};

// The refreshes of one listener on one worker.
class CacheRefreshes {
public:
    CacheRefreshes(L7Worker& worker, HttpListener& listener);
    ~CacheRefreshes();
    CacheRefreshes(const CacheRefreshes&) = delete;
    CacheRefreshes& operator=(const CacheRefreshes&) = delete;

    // A new refresh for `client`, set up by the caller, started from the loop.
    CacheRefresh& add(const ClientEndpoint& client);

private:
    static void on_kick(evutil_socket_t fd, short what, void* arg);
    void kick();

    L7Worker& worker_;
    HttpListener& listener_;
    std::list<std::unique_ptr<CacheRefresh>> refreshes_;
    EventPtr kick_;  // starts new refreshes and frees ended ones, from the loop
};

}  // namespace lbd::l7
