// Cookie parsing and writing (l7/cookie_header.h) and the weighted split's
// choice (l7/weighted_split.h): pure functions, no sockets.
#include <doctest/doctest.h>

#include <string>

#include "l7/cookie_header.h"
#include "l7/weighted_split.h"

namespace lbd::l7 {
namespace {

TEST_CASE("request_cookie finds one cookie among pairs, headers, spaces and quotes") {
    HeaderList h{{"Host", "x"}, {"Cookie", "a=1; LBSRV=abc; b=2"}};
    CHECK(request_cookie(h, "LBSRV") == "abc");
    CHECK(request_cookie(h, "a") == "1");
    CHECK(request_cookie(h, "b") == "2");
    CHECK_FALSE(request_cookie(h, "c").has_value());

    // A name that is a prefix, suffix or substring of another is not it.
    HeaderList sub{{"cookie", "XLBSRV=1;LBSRV2=2; LBSRVX=3"}};
    CHECK_FALSE(request_cookie(sub, "LBSRV").has_value());
    HeaderList value_holds_name{{"Cookie", "a=LBSRV=zz"}};
    CHECK_FALSE(request_cookie(value_holds_name, "LBSRV").has_value());
    // Names are case-sensitive (RFC 6265 §5.4 compares them exactly).
    CHECK_FALSE(request_cookie(HeaderList{{"Cookie", "lbsrv=1"}}, "LBSRV").has_value());

    // Spaces and tabs around pairs, '=' and values; no space after ';'.
    CHECK(request_cookie(HeaderList{{"Cookie", "a=1;\t LBSRV = abc ;b=2"}}, "LBSRV") == "abc");
    // A quoted value comes without its quotes.
    CHECK(request_cookie(HeaderList{{"Cookie", "LBSRV=\"abc\""}}, "LBSRV") == "abc");
    // An '=' inside the value is kept.
    CHECK(request_cookie(HeaderList{{"Cookie", "t=a=b==; x=1"}}, "t") == "a=b==");
    // Empty pairs and a name-less piece do not derail the rest.
    CHECK(request_cookie(HeaderList{{"Cookie", ";; junk ; LBSRV=v;"}}, "LBSRV") == "v");
    // Several Cookie headers: searched in order, the first occurrence wins.
    HeaderList several{{"Cookie", "a=1"}, {"X-Other", "LBSRV=no"}, {"COOKIE", "LBSRV=first"}, {"Cookie", "LBSRV=second"}};
    CHECK(request_cookie(several, "LBSRV") == "first");
    // An empty value is a value.
    CHECK(request_cookie(HeaderList{{"Cookie", "LBSRV="}}, "LBSRV") == "");
}

TEST_CASE("remove_request_cookie drops the pair everywhere and keeps the rest") {
    HeaderList h{{"Cookie", "a=1; LBSRV=abc;b=2"}, {"Host", "x"}, {"Cookie", "LBSRV=again"}, {"Cookie", "XLBSRV=k"}};
    remove_request_cookie(h, "LBSRV");
    REQUIRE(h.size() == 3);
    CHECK(h[0].second == "a=1; b=2");
    CHECK(h[1].first == "Host");
    CHECK(h[2].second == "XLBSRV=k");
    CHECK_FALSE(request_cookie(h, "LBSRV").has_value());

    HeaderList untouched{{"Cookie", "a=1;b=2"}};
    remove_request_cookie(untouched, "LBSRV");
    CHECK(untouched[0].second == "a=1;b=2");  // not rewritten when nothing was removed
}

TEST_CASE("response_set_cookie reads the last Set-Cookie of a name and sees deletions") {
    HeaderList h{{"Set-Cookie", "other=1; Path=/"}, {"set-cookie", "JSESSIONID=s1; Path=/; HttpOnly"}};
    auto seen = response_set_cookie(h, "JSESSIONID");
    REQUIRE(seen.has_value());
    CHECK(seen->value == "s1");
    CHECK_FALSE(seen->deleted);
    CHECK_FALSE(response_set_cookie(h, "SESSION").has_value());
    CHECK_FALSE(response_set_cookie(HeaderList{{"Set-Cookie", "XJSESSIONID=s"}}, "JSESSIONID").has_value());

    h.emplace_back("Set-Cookie", "JSESSIONID=\"s2\"");
    CHECK(response_set_cookie(h, "JSESSIONID")->value == "s2");

    CHECK(response_set_cookie(HeaderList{{"Set-Cookie", "J=x; Max-Age=0"}}, "J")->deleted);
    CHECK(response_set_cookie(HeaderList{{"Set-Cookie", "J=x; max-age=-1"}}, "J")->deleted);
    CHECK(response_set_cookie(HeaderList{{"Set-Cookie", "J=; Path=/"}}, "J")->deleted);
    CHECK_FALSE(response_set_cookie(HeaderList{{"Set-Cookie", "J=x; Max-Age=10"}}, "J")->deleted);
}

TEST_CASE("insert_cookie_value writes the configured attributes") {
    CookieStickinessConfig c;
    c.name = "LBSRV";
    CHECK(insert_cookie_value(c, "0123abcd") == "LBSRV=0123abcd; Path=/");
    c.path = "/app";
    c.max_age_s = 600;
    c.domain = "example.com";
    c.secure = true;
    c.http_only = true;
    c.same_site = "Lax";
    CHECK(insert_cookie_value(c, "v") ==
          "LBSRV=v; Path=/app; Max-Age=600; Domain=example.com; Secure; HttpOnly; SameSite=Lax");
}

TEST_CASE("forbid_caching_set_cookie adds or extends Cache-Control, unless already uncacheable") {
    HeaderList none{{"Content-Type", "text/plain"}};
    forbid_caching_set_cookie(none);
    CHECK(*find_header(none, "cache-control") == "no-cache=\"Set-Cookie\"");

    HeaderList public_one{{"Cache-Control", "public, max-age=60"}};
    forbid_caching_set_cookie(public_one);
    CHECK(public_one[0].second == "public, max-age=60, no-cache=\"Set-Cookie\"");

    for (const char* uncacheable : {"private", "no-store", "max-age=0, No-Cache", "private=\"x\""}) {
        HeaderList h{{"cache-control", uncacheable}};
        forbid_caching_set_cookie(h);
        CHECK(h[0].second == uncacheable);
    }
}

TEST_CASE("a weighted split gives each pool its exact share, interleaved") {
    WeightedSplit split({{"v1", 90}, {"v2", 10}});
    auto all = [](size_t) { return true; };
    int counts[2] = {0, 0};
    for (int i = 0; i < 1000; ++i) ++counts[split.next(all)];
    CHECK(counts[0] == 900);
    CHECK(counts[1] == 100);

    // Smooth: 2:1 goes a b a, a b a, never a a b b.
    WeightedSplit smooth({{"a", 2}, {"b", 1}});
    std::string order;
    for (int i = 0; i < 6; ++i) order += smooth.next(all) == 0 ? 'a' : 'b';
    CHECK(order == "abaaba");
}

TEST_CASE("a weighted split skips weight 0 and pools that are not eligible") {
    WeightedSplit split({{"blue", 0}, {"green", 5}, {"canary", 1}});
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 600; ++i) ++counts[split.next([](size_t) { return true; })];
    CHECK(counts[0] == 0);
    CHECK(counts[1] == 500);
    CHECK(counts[2] == 100);

    // green has no UP server: everything goes to the canary.
    for (int i = 0; i < 10; ++i) CHECK(split.next([](size_t i) { return i != 1; }) == 2);
    CHECK(split.next([](size_t) { return false; }) == -1);
    CHECK(WeightedSplit({{"only", 0}}).next([](size_t) { return true; }) == -1);
}

}  // namespace
}  // namespace lbd::l7
