// The L7 filters (l7/filter.h) on an Exchange, without sockets: the chain's
// order, early answer and pause/resume, body stages, rate limits, request and response header
// rewriting, cookie stickiness on the response.
#include <doctest/doctest.h>

#include <event2/buffer.h>

#include <memory>
#include <string>

#include "core/config/config_loader.h"
#include "core/balance/pool.h"
#include "core/state/rate_limiter.h"
#include "l7/cookie_sticky_filter.h"
#include "l7/filter.h"
#include "l7/header_filters.h"
#include "l7/rate_limit.h"
#include "tests/unit/config_test_kit.h"

namespace lbd::l7 {
namespace {

Config load(const std::string& http, const std::string& pool_extra = "") {
    const std::string text = "listeners { name: \"web\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"p\"\n"
                             "  http {\n" + http + "  }\n}\n"
                             "pools { name: \"p\" servers { name: \"s1\" address: \"127.0.0.1:9001\" }\n" +
                             pool_extra + "}\n";
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(test::all_errors(result));
    REQUIRE(result.config.has_value());
    return std::move(*result.config);
}

ClientEndpoint client_at(const char* address) {
    ClientEndpoint endpoint;
    endpoint.peer = *SocketAddress::parse(address);
    endpoint.local_port = 8080;
    return endpoint;
}

RequestInfo get(std::string path) {
    RequestInfo request;
    request.method = "GET";
    request.method_kind = HttpMethod::kGet;
    request.path = std::move(path);
    request.host = "www.example.com";
    request.host_header = "www.example.com";
    request.headers = {{"Host", "www.example.com"}};
    return request;
}

// A filter that records that it ran and answers when told to.
struct Probe final : RequestFilter {
    Probe(int& runs, int status) : runs(runs), status(status) {}
    FilterResult on_request_head(Exchange&) override {
        ++runs;
        if (status == 0) return FilterResult::next();
        LocalAnswer answer;
        answer.status = status;
        return FilterResult::respond(std::move(answer));
    }
    int& runs;
    int status;
};

TEST_CASE("a chain runs its request filters in order and stops at the first answer") {
    int first = 0, second = 0, third = 0;
    FilterChain chain;
    chain.add(std::make_unique<Probe>(first, 0));
    chain.add(std::make_unique<Probe>(second, 403));
    chain.add(std::make_unique<Probe>(third, 0));
    ClientEndpoint endpoint = client_at("192.0.2.1:5000");
    Exchange exchange(endpoint, 0);
    FilterResult r = chain.on_request_head(exchange);
    CHECK(r.responds());
    CHECK(r.answer.status == 403);
    CHECK(first == 1);
    CHECK(second == 1);
    CHECK(third == 0);
    CHECK_FALSE(FilterChain().on_response_head(exchange).responds());
}

// A filter that pauses and keeps the exchange's resumer, as a password
// check on a thread pool does.
struct Pauser final : RequestFilter {
    FilterResult on_request_head(Exchange& exchange) override {
        ++runs;
        resumer = exchange.resumer();
        return FilterResult::pause();
    }
    int runs = 0;
    ExchangeResumer resumer;
};

// What drives the exchange on, as the session does: runs the rest of the chain.
struct Driver final : ResumeTarget {
    explicit Driver(const FilterChain& chain) : chain(chain) {}
    void resume_request(FilterResult result) override {
        ++resumes;
        last = result.responds() ? result : chain.on_request_head(*exchange);
    }
    const FilterChain& chain;
    Exchange* exchange = nullptr;
    int resumes = 0;
    FilterResult last;
};

TEST_CASE("a paused chain goes on after the filter that paused, once its resumer is called") {
    int first = 0, third = 0;
    FilterChain chain;
    chain.add(std::make_unique<Probe>(first, 0));
    auto pauser = std::make_unique<Pauser>();
    Pauser& paused = *pauser;
    chain.add(std::move(pauser));
    chain.add(std::make_unique<Probe>(third, 401));
    ClientEndpoint endpoint = client_at("192.0.2.1:5000");
    Driver driver(chain);
    Exchange exchange(endpoint, 0);
    exchange.driver = &driver;
    driver.exchange = &exchange;

    CHECK(chain.on_request_head(exchange).pauses());
    CHECK(first == 1);
    CHECK(paused.runs == 1);
    CHECK(third == 0);  // nothing after the pause runs yet

    paused.resumer(FilterResult::next());
    CHECK(driver.resumes == 1);
    CHECK(first == 1);        // the filters before the pause do not run again
    CHECK(paused.runs == 1);  // nor the one that paused
    CHECK(third == 1);
    CHECK(driver.last.answer.status == 401);
}

TEST_CASE("a resumer called after its exchange ended does nothing") {
    FilterChain chain;
    auto pauser = std::make_unique<Pauser>();
    Pauser& paused = *pauser;
    chain.add(std::move(pauser));
    ClientEndpoint endpoint = client_at("192.0.2.1:5000");
    Driver driver(chain);
    {
        Exchange exchange(endpoint, 0);
        exchange.driver = &driver;
        driver.exchange = &exchange;
        CHECK(chain.on_request_head(exchange).pauses());
    }
    paused.resumer(FilterResult::next());  // the client went away meanwhile
    CHECK(driver.resumes == 0);
}

// A body stage that counts what it saw and whether it was told of an abort.
struct CountingStage final : ResponseBodyFilter {
    CountingStage(size_t& seen, bool& aborted) : seen(seen), aborted(aborted) {}
    bool on_body(evbuffer* in, evbuffer* out, BodyProgress) override {
        seen += evbuffer_get_length(in);
        evbuffer_remove_buffer(in, out, evbuffer_get_length(in));
        return true;
    }
    void on_abort() override { aborted = true; }
    size_t& seen;
    bool& aborted;
};

TEST_CASE("an exchange whose body did not end tells its body stages, and one that ended does not") {
    ClientEndpoint endpoint = client_at("192.0.2.1:5000");
    size_t seen = 0;
    bool aborted = false;
    {
        Exchange exchange(endpoint, 0);
        exchange.body_filters.push_back(std::make_unique<CountingStage>(seen, aborted));
    }
    CHECK(aborted);
    aborted = false;
    {
        Exchange exchange(endpoint, 0);
        exchange.body_filters.push_back(std::make_unique<CountingStage>(seen, aborted));
        exchange.response_done = true;
    }
    CHECK_FALSE(aborted);
}

TEST_CASE("a staged body keeps a Content-Length a stage left, else is chunked anew (HTTP/1.1) or sent until close") {
    ResponseInfo response;
    response.status = 200;
    response.framing = BodyFraming::kChunked;
    CHECK(staged_framing(response, HttpVersion::k11) == ClientFraming::kChunkEncode);
    CHECK(staged_framing(response, HttpVersion::k10) == ClientFraming::kDechunk);
    response.framing = BodyFraming::kContentLength;
    response.headers = {{"Content-Length", "10"}};
    CHECK(staged_framing(response, HttpVersion::k11) == ClientFraming::kAsIs);
    response.headers.clear();  // a stage that changes the length removes it
    CHECK(staged_framing(response, HttpVersion::k11) == ClientFraming::kChunkEncode);
    response.framing = BodyFraming::kNone;  // HEAD, 204, 304
    CHECK(staged_framing(response, HttpVersion::k11) == ClientFraming::kNone);
    CHECK(serialize_response(response, ClientFraming::kChunkEncode, HttpVersion::k11, false)
              .find("Transfer-Encoding: chunked\r\n") != std::string::npos);
}

TEST_CASE("the rate-limit filter answers the zone's status with Retry-After once a client is over") {
    Config config = load("    rate_limit_zones { name: \"z\" requests: 1 period_ms: 60000 status: 503 }\n"
                         "    rate_limits: \"z\"\n");
    RateLimitZones zones(config, nullptr);
    const ListenerConfig& listener = config.listeners.at(0);
    ListenerRateLimits limits(zones, listener);
    RateLimitFilter filter(limits, listener.http);
    ClientEndpoint alice = client_at("192.0.2.1:5000");
    ClientEndpoint bob = client_at("192.0.2.2:5000");

    Exchange first(alice, 0);
    first.request = get("/");
    CHECK_FALSE(filter.on_request_head(first).responds());
    Exchange second(alice, 0);
    second.request = get("/");
    FilterResult refused = filter.on_request_head(second);
    REQUIRE(refused.responds());
    CHECK(refused.answer.status == 503);
    CHECK(refused.answer.term == Termination::kRateLimited);
    CHECK_FALSE(refused.answer.close);
    const std::string* retry_after = find_header(refused.answer.headers, "retry-after");
    REQUIRE(retry_after != nullptr);
    CHECK(std::stoi(*retry_after) >= 1);
    CHECK(refused.answer.body.find("503") != std::string::npos);
    // Another client has its own allowance.
    Exchange other(bob, 0);
    other.request = get("/");
    CHECK_FALSE(filter.on_request_head(other).responds());
}

TEST_CASE("the request-headers filter adds forwarding headers, then the route's actions, then the listener's") {
    Config config = load("    request_headers { set { name: \"X-Where\" value: \"listener\" } remove: \"X-Drop\" }\n"
                         "    routes { match { path_prefix: \"/api/\" } pool: \"p\"\n"
                         "      request_headers { set { name: \"X-Where\" value: \"route\" } add { name: \"X-Route\" value: \"api\" } } }\n");
    const HttpConfig& http = config.listeners.at(0).http;
    RequestHeadersFilter filter(http);
    ClientEndpoint endpoint = client_at("192.0.2.7:5000");
    Exchange exchange(endpoint, 0);
    exchange.request = get("/api/x");
    exchange.request.headers.emplace_back("X-Drop", "1");
    exchange.route = &http.routes.at(0);
    CHECK_FALSE(filter.on_request_head(exchange).responds());
    const HeaderList& headers = exchange.request.headers;
    REQUIRE(find_header(headers, "x-forwarded-for") != nullptr);
    CHECK(*find_header(headers, "x-forwarded-for") == "192.0.2.7");
    CHECK(*find_header(headers, "x-forwarded-proto") == "http");
    CHECK(*find_header(headers, "x-forwarded-port") == "8080");
    CHECK(*find_header(headers, "x-route") == "api");
    CHECK(*find_header(headers, "x-where") == "listener");  // the listener's actions come last
    CHECK(find_header(headers, "x-drop") == nullptr);

    // No route: only the listener's actions.
    Exchange plain(endpoint, 0);
    plain.request = get("/");
    filter.on_request_head(plain);
    CHECK(find_header(plain.request.headers, "x-route") == nullptr);
    CHECK(*find_header(plain.request.headers, "x-where") == "listener");
}

TEST_CASE("the response-headers filter hides server headers, applies actions and appends Via") {
    Config config = load("    hide_server_headers: true\n"
                         "    forwarded { via: true }\n"
                         "    response_headers { set { name: \"X-Frame-Options\" value: \"DENY\" } }\n");
    const HttpConfig& http = config.listeners.at(0).http;
    ResponseHeadersFilter filter(http);
    ClientEndpoint endpoint = client_at("192.0.2.7:5000");
    Exchange exchange(endpoint, 0);
    exchange.response.status = 200;
    exchange.response.headers = {{"Server", "nginx"}, {"X-Powered-By", "PHP"}, {"Via", "1.1 cdn"}, {"X-App", "1"}};
    CHECK_FALSE(filter.on_response_head(exchange).responds());
    const HeaderList& headers = exchange.response.headers;
    CHECK(find_header(headers, "server") == nullptr);
    CHECK(find_header(headers, "x-powered-by") == nullptr);
    CHECK(*find_header(headers, "via") == "1.1 cdn, 1.1 lbd");
    CHECK(*find_header(headers, "x-frame-options") == "DENY");
    CHECK(*find_header(headers, "x-app") == "1");
}

TEST_CASE("the cookie-stickiness filter sets an INSERT cookie naming the server, and none when the client has it") {
    Config config = load("", "  stickiness { cookie { name: \"LBSRV\" mode: INSERT } }\n");
    Pool pool(config.pools.at(0), nullptr);
    std::shared_ptr<Server> server = pool.servers()->at(0);
    CookieStickyFilter filter;
    ClientEndpoint endpoint = client_at("192.0.2.7:5000");

    Exchange fresh(endpoint, 0);
    fresh.request = get("/");
    fresh.sticky.begin(pool, fresh.request);
    fresh.server = server;
    fresh.response.status = 200;
    CHECK_FALSE(filter.on_response_head(fresh).responds());
    const std::string* set_cookie = find_header(fresh.response.headers, "set-cookie");
    REQUIRE(set_cookie != nullptr);
    CHECK(set_cookie->starts_with("LBSRV=" + server->id()));
    fresh.server = nullptr;  // the test holds no slot: nothing to release

    Exchange returning(endpoint, 0);
    returning.request = get("/");
    returning.request.headers.emplace_back("Cookie", "LBSRV=" + server->id());
    returning.sticky.begin(pool, returning.request);
    CHECK(find_header(returning.request.headers, "cookie") == nullptr);  // INSERT: the server never sees it
    returning.server = server;
    filter.on_response_head(returning);
    CHECK(find_header(returning.response.headers, "set-cookie") == nullptr);
    returning.server = nullptr;
}

}  // namespace
}  // namespace lbd::l7
