// The response cache's pure parts: what may be stored and for how long
// (l7/cache_policy.h, RFC 9111), keys and variants, client conditionals,
// the zone's LRU under its byte bound (core/state/cache_store.h), and the
// loader's checks (l7/config/config_cache.cc).
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "core/state/cache_store.h"
#include "l7/cache_policy.h"
#include "tests/unit/config_test_kit.h"

namespace lbd::l7 {
namespace {

constexpr int64_t kNow = 1'700'000'000;

RequestInfo get(HeaderList headers = {}) {
    RequestInfo r;
    r.method = "GET";
    r.method_kind = HttpMethod::kGet;
    r.host = "www.example.com";
    r.path = "/a";
    r.query = "?x=1";
    r.headers = std::move(headers);
    return r;
}

ResponseInfo response(int status, HeaderList headers) {
    ResponseInfo r;
    r.status = status;
    r.headers = std::move(headers);
    return r;
}

StoreDecision decide(int status, HeaderList headers, RequestInfo request = get(), HttpRouteCache route = {}) {
    route.zone = "z";
    return decide_store(request, response(status, std::move(headers)), route, kNow);
}

TEST_CASE("freshness: s-maxage over max-age over Expires - Date; Age and Date age the response") {
    CHECK(decide(200, {{"Cache-Control", "max-age=60, s-maxage=300"}}).lifetime_s == 300);
    CHECK(decide(200, {{"Cache-Control", "max-age=60"}}).lifetime_s == 60);
    const std::string date = format_http_date(kNow - 10);
    StoreDecision d = decide(200, {{"Date", date}, {"Expires", format_http_date(kNow + 90)}});
    CHECK(d.store);
    CHECK(d.lifetime_s == 100);
    CHECK(d.initial_age_s == 10);  // apparent age from Date
    CHECK(decide(200, {{"Cache-Control", "max-age=60"}, {"Age", "25"}}).initial_age_s == 25);
    // An invalid Expires is already expired; with no validator, not worth storing.
    CHECK_FALSE(decide(200, {{"Date", date}, {"Expires", "0"}}).store);
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_CASE("storability: no-store, private, no lifetime, statuses, Vary *, Set-Cookie, Authorization") {
    CHECK(std::string(decide(200, {{"Cache-Control", "no-store, max-age=60"}}).why) == "no-store");
    CHECK(std::string(decide(200, {{"Cache-Control", "private, max-age=60"}}).why) == "private");
    CHECK(std::string(decide(200, {}).why) == "no lifetime");
    CHECK(std::string(decide(302, {{"Cache-Control", "max-age=60"}}).why) == "status");
    CHECK(std::string(decide(500, {{"Cache-Control", "max-age=60"}}).why) == "status");
    for (int status : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
        CHECK(decide(status, {{"Cache-Control", "max-age=60"}}).store);
    CHECK(std::string(decide(200, {{"Cache-Control", "max-age=60"}, {"Vary", "*"}}).why) == "vary *");
    CHECK(std::string(decide(200, {{"Cache-Control", "max-age=60"}, {"Set-Cookie", "a=b"}}).why) == "set-cookie");
    HttpRouteCache cookies;
    cookies.store_set_cookie = true;
    StoreDecision with_cookie = decide(200, {{"Cache-Control", "max-age=60"}, {"Set-Cookie", "a=b"}}, get(), cookies);
    CHECK(with_cookie.store);
    CHECK(stored_headers({{"Set-Cookie", "a=b"}, {"ETag", "\"1\""}, {"Content-Length", "5"}}, with_cookie.strip) ==
          HeaderList{{"ETag", "\"1\""}});
    // no-cache="Set-Cookie" (what lbd's own stickiness cookie carries): stored without it.
    CHECK(decide(200, {{"Cache-Control", "max-age=60, no-cache=\"Set-Cookie\""}, {"Set-Cookie", "a=b"}}).store);
    const RequestInfo authorized = get({{"Authorization", "Basic eDp5"}});
    CHECK(std::string(decide(200, {{"Cache-Control", "max-age=60"}}, authorized).why) == "authorization");
    CHECK(decide(200, {{"Cache-Control", "public, max-age=60"}}, authorized).store);
    CHECK(decide(200, {{"Cache-Control", "s-maxage=60"}}, authorized).store);
    RequestInfo head = get();
    head.method_kind = HttpMethod::kHead;
    CHECK_FALSE(decide(200, {{"Cache-Control", "max-age=60"}}, head).store);
}

TEST_CASE("no-cache is stored to be revalidated, only with a validator; valid rules are nginx's proxy_cache_valid") {
    StoreDecision d = decide(200, {{"Cache-Control", "no-cache"}, {"ETag", "\"v1\""}});
    CHECK(d.store);
    CHECK(d.revalidate);
    CHECK_FALSE(decide(200, {{"Cache-Control", "no-cache, max-age=60"}}).store);
    HttpRouteCache route;
    route.valid.push_back({{200, 302}, 5000});
    CHECK(decide(302, {}, get(), route).lifetime_s == 5);
    CHECK(decide(200, {}, get(), route).store);
    CHECK(decide(200, {{"Cache-Control", "max-age=60"}}, get(), route).lifetime_s == 60);  // the response's own first
    CHECK_FALSE(decide(404, {}, get(), route).store);
}

TEST_CASE("fresh until the current age reaches the lifetime; no-cache is never fresh") {
    CacheObject object;
    object.status = 200;
    object.response_time_s = kNow;
    object.initial_age_s = 5;
    object.lifetime_s = 10;
    CHECK(cache_current_age(object, kNow + 3) == 8);
    CHECK(cache_fresh(object, kNow + 4));
    CHECK_FALSE(cache_fresh(object, kNow + 5));
    object.revalidate = true;
    CHECK_FALSE(cache_fresh(object, kNow));
}

TEST_CASE("keys, bypass rules and Vary variants with Accept-Encoding normalised") {
    HttpRouteCache route;
    route.zone = "z";
    CHECK(cache_key(get(), "https", route) == "https://www.example.com/a?x=1");
    route.key_headers = {"x-tenant"};
    CHECK(cache_key(get({{"X-Tenant", "t1"}}), "http", route) == "http://www.example.com/a?x=1 x-tenant=t1");
    CHECK(normalize_accept_encoding("gzip, br") == "br,gzip");
    CHECK(normalize_accept_encoding("br;q=1, GZIP, identity, gzip;q=0.5") == "br,gzip");
    CHECK(normalize_accept_encoding("gzip;q=0, br") == "br");
    // "*" accepts every coding: it must not share the key of a client that accepts none.
    CHECK(normalize_accept_encoding("*") == "br,deflate,gzip,zstd");
    CHECK(normalize_accept_encoding("") == "");
    CHECK(normalize_accept_encoding("x-gzip") == "gzip");  // RFC 9110 §8.4.1.3
    CHECK(normalize_accept_encoding("gzip;q=0;x=1") == "");
    // Identity outweighing gzip may be chosen instead: not the variant of a plain "gzip".
    CHECK(normalize_accept_encoding("gzip;q=0.5, identity") == "identity>gzip");
    CHECK(normalize_accept_encoding("br, gzip;q=0.5") == "br>gzip");
    const std::vector<std::string> vary = {"accept-encoding"};
    // One preference, written two ways, is one variant.
    CHECK(cache_variant_key("k", vary, get({{"Accept-Encoding", "gzip, br"}})) ==
          cache_variant_key("k", vary, get({{"Accept-Encoding", "br;q=0.9,gzip;q=0.9"}})));
    // Preferring br over gzip is not a tie: a route offering gzip first would choose differently.
    CHECK(cache_variant_key("k", vary, get({{"Accept-Encoding", "gzip, br"}})) !=
          cache_variant_key("k", vary, get({{"Accept-Encoding", "br,gzip;q=0.9"}})));
    CHECK(cache_variant_key("k", vary, get({{"Accept-Encoding", "gzip"}})) !=
          cache_variant_key("k", vary, get({{"Accept-Encoding", "br"}})));
    route.bypass_headers = {"x-nocache"};
    route.bypass_cookies = {"session"};
    CHECK(cache_bypass_reason(get(), route) == nullptr);
    CHECK(cache_bypass_reason(get({{"X-Nocache", "0"}}), route) == nullptr);
    CHECK(std::string(cache_bypass_reason(get({{"X-Nocache", "1"}}), route)) == "bypass header");
    CHECK(std::string(cache_bypass_reason(get({{"Cookie", "a=1; session=xyz"}}), route)) == "bypass cookie");
    RequestInfo post = get();
    post.method_kind = HttpMethod::kPost;
    CHECK(std::string(cache_bypass_reason(post, route)) == "method");
    RequestInfo body = get();
    body.framing = BodyFraming::kContentLength;
    body.content_length = 3;
    CHECK(std::string(cache_bypass_reason(body, route)) == "body");
}

TEST_CASE("a client's If-None-Match (weak) or else If-Modified-Since is answered from the stored copy") {
    CacheObject object;
    object.status = 200;
    object.headers = {{"ETag", "W/\"v1\""}, {"Last-Modified", format_http_date(kNow - 100)}};
    CHECK(client_not_modified(get({{"If-None-Match", "\"v0\", \"v1\""}}), object));
    CHECK_FALSE(client_not_modified(get({{"If-None-Match", "\"v2\""}}), object));
    CHECK(client_not_modified(get({{"If-Modified-Since", format_http_date(kNow - 50)}}), object));
    CHECK_FALSE(client_not_modified(get({{"If-Modified-Since", format_http_date(kNow - 150)}}), object));
    // If-None-Match decides when present (RFC 9110 §13.2.2).
    CHECK_FALSE(client_not_modified(
        get({{"If-None-Match", "\"v2\""}, {"If-Modified-Since", format_http_date(kNow - 50)}}), object));
    // RFC 9110 §13.2.1: only a 2xx answers a precondition; a stored 404 is sent as it is.
    object.status = 404;
    CHECK_FALSE(client_not_modified(get({{"If-None-Match", "*"}}), object));
    CHECK_FALSE(client_not_modified(get({{"If-Modified-Since", format_http_date(kNow - 50)}}), object));
}

CacheObjectPtr object_of(size_t body_bytes) {
    auto object = std::make_shared<CacheObject>();
    object->status = 200;
    object->body = std::make_shared<const std::string>(body_bytes, 'x');
    return object;
}

TEST_CASE("a zone stays under max_bytes, evicting the least recently used, and refuses objects over the limit") {
    CacheZoneConfig config;
    config.name = "z";
    config.max_bytes = 64 * 1024;
    config.max_object_bytes = 16 * 1024 - 512;  // one shard of four such objects
    CacheZone zone(config);
    CHECK_FALSE(zone.insert("big", object_of(16 * 1024)));
    CHECK(zone.counters().too_large == 1);
    for (int i = 0; i < 4; ++i) REQUIRE(zone.insert("k" + std::to_string(i), object_of(15 * 1024)));
    CHECK(zone.objects() == 4);
    CHECK(zone.find("k0") != nullptr);  // k0 is now the most recent: k1 goes next
    REQUIRE(zone.insert("k4", object_of(15 * 1024)));
    CHECK(zone.bytes() <= config.max_bytes);
    CHECK(zone.counters().evictions == 1);
    CHECK(zone.find("k1") == nullptr);
    CHECK(zone.find("k0") != nullptr);
    CHECK(zone.objects() == 4);
}

TEST_CASE("purge: a key with its variants, a path on any host, a prefix") {
    CacheZoneConfig config;
    config.name = "z";
    CacheZone zone(config);
    const std::string variant = std::string("http://a/x") + kCacheVariantSeparator + "accept-encoding=gzip";
    for (const std::string& key : {std::string("http://a/x"), variant, std::string("http://b/x"),
                                   std::string("http://a/xy"), std::string("https://a/img/1"),
                                   std::string("http://c/k x-tenant=t1")})
        zone.insert(key, object_of(10));
    CHECK(zone.purge("http://a/x", false) == 2);
    CHECK(zone.find("http://b/x") != nullptr);
    CHECK(zone.purge("/x", false) == 1);  // http://b/x
    CHECK(zone.purge("/k", false) == 1);  // a route's key_headers part does not hide the path
    CHECK(zone.purge("/img/", true) == 1);
    CHECK(zone.purge("http://a/", true) == 1);  // http://a/xy
    CHECK(zone.objects() == 0);
    CHECK(zone.bytes() == 0);
}

std::string config_text(const std::string& global, const std::string& route) {
    return "global {\n" + global + "}\n"
           "listeners { name: \"web\" bind: \"127.0.0.1:0\" mode: MODE_HTTP\n"
           "  http { routes {\n pool: \"p\"\n" + route + "  } }\n}\n"
           "pools { name: \"p\" servers { name: \"s1\" address: \"127.0.0.1:9001\" } }\n";
}

TEST_CASE("cache config errors name the line of the field at fault") {
    test::expect_error_on_line(config_text("  cache_zones { name: \"z\" max_bytes: 1000 }\n", ""), "max_bytes",
                               "cache zone 'z': max_bytes 1000 is below the minimum 65536");
    test::expect_error_on_line(
        config_text("  cache_zones { name: \"z\" max_bytes: 100000\n max_object_bytes: 50000 }\n", ""),
        "max_object_bytes", "cache zone 'z': max_object_bytes 50000 is more than a quarter of max_bytes (100000)");
    test::expect_error_on_line(config_text("", "cache { zone: \"nope\" }\n"), "zone: \"nope\"",
                               "unknown cache zone 'nope' (define it in global.cache_zones)");
    test::expect_error_on_line(config_text("  cache_zones { name: \"z\" }\n", "cache { zone: \"z\"\n valid { ttl_ms: 0 } }\n"),
                               "valid {", "cache valid: ttl_ms must be > 0");
    ConfigLoadResult ok = load_config_text(
        config_text("  cache_zones { name: \"z\" }\n",
                    "cache { zone: \"z\" valid { statuses: [200, 302] ttl_ms: 60000 } key_headers: \"X-Tenant\" }\n"),
        "test.conf");
    INFO(test::all_errors(ok));
    REQUIRE(ok.config.has_value());
    CHECK(ok.config->global.cache_zones.at(0).max_bytes == 64ull << 20);
    const HttpRouteCache& cache = ok.config->listeners.at(0).http.routes.at(0).cache;
    CHECK(cache.zone == "z");
    CHECK(cache.key_headers == std::vector<std::string>{"x-tenant"});
    CHECK(cache.valid.at(0).statuses == std::vector<uint16_t>{200, 302});
    CHECK(cache.status_headers);
}

TEST_CASE("stale-if-error: the response's window or the route's; never with must-revalidate, s-maxage, no-cache") {
    auto object = [](const char* cache_control, uint64_t age) {
        StoreDecision d = decide(200, {{"Cache-Control", cache_control}, {"ETag", "\"e\""}});
        REQUIRE(d.store);
        CacheObject o;
        o.status = 200;
        o.response_time_s = kNow;
        o.initial_age_s = age;
        o.lifetime_s = d.lifetime_s;
        o.revalidate = d.revalidate;
        o.no_stale = d.no_stale;
        o.stale_if_error_s = d.stale_if_error_s;
        return o;
    };
    HttpRouteCache route;
    // Stale for 40 s: within 600, not within 30 nor without a window.
    CHECK(cache_stale_usable(object("max-age=60, stale-if-error=600", 100), route, kStaleOnError, kNow));
    CHECK_FALSE(cache_stale_usable(object("max-age=60, stale-if-error=30", 100), route, kStaleOnError, kNow));
    CHECK_FALSE(cache_stale_usable(object("max-age=60", 100), route, kStaleOnTimeout, kNow));
    CHECK_FALSE(cache_stale_usable(object("max-age=60, stale-if-error=600, must-revalidate", 100), route,
                                      kStaleOnError, kNow));
    CHECK_FALSE(cache_stale_usable(object("max-age=60, stale-if-error=600, proxy-revalidate", 100), route,
                                      kStaleOnError, kNow));
    CHECK_FALSE(cache_stale_usable(object("s-maxage=60, stale-if-error=600", 100), route, kStaleOnError, kNow));
    CHECK_FALSE(cache_stale_usable(object("no-cache, stale-if-error=600", 100), route, kStaleOnError, kNow));
    // The route's window replaces the response's; its `on` limits the failures.
    route.stale_if_error_ms = 600000;
    CHECK(cache_stale_usable(object("max-age=60, stale-if-error=30", 100), route, kStaleOnHttp503, kNow));
    CHECK(cache_stale_usable(object("max-age=60", 100), route, kStaleOnHttp503, kNow));
    route.stale_on = kStaleOnTimeout;
    CHECK_FALSE(cache_stale_usable(object("max-age=60", 100), route, kStaleOnHttp503, kNow));
    CHECK(cache_stale_on_status(503) == kStaleOnHttp503);
    CHECK(cache_stale_on_status(501) == 0);
    CHECK(parse_cache_control({{"Cache-Control", "max-age=1, stale-if-error=\"7\""}}).stale_if_error == 7u);
}

TEST_CASE("use_stale config: the failures it names, its window, and its errors") {
    ConfigLoadResult ok = load_config_text(
        config_text("  cache_zones { name: \"z\" }\n",
                    "cache { zone: \"z\" use_stale { on: [\"timeout\", \"http_503\"] if_error_ms: 60000 } }\n"),
        "test.conf");
    INFO(test::all_errors(ok));
    REQUIRE(ok.config.has_value());
    const HttpRouteCache& cache = ok.config->listeners.at(0).http.routes.at(0).cache;
    CHECK(cache.stale_on == (kStaleOnTimeout | kStaleOnHttp503));
    CHECK(cache.stale_if_error_ms == 60000);
    test::expect_error_on_line(
        config_text("  cache_zones { name: \"z\" }\n", "cache { zone: \"z\"\n use_stale { on: \"http_404\" } }\n"),
        "on: \"http_404\"",
        "cache use_stale: unknown failure 'http_404' (error, timeout, http_500, http_502, http_503, http_504, updating)");
}

}  // namespace
}  // namespace lbd::l7
