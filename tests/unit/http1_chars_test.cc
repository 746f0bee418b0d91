// Unit tests for the character classes and the token / field-value checks of core/http1/chars.h,
// which the parser and the config checks share.
#include <doctest/doctest.h>

#include <clocale>
#include <string>

#include "core/http1/chars.h"
#include "core/http1/parser.h"

using lbd::http1::field_content_prefix;
using lbd::http1::is_field_value;
using lbd::http1::is_token;

TEST_CASE("is_token: 1*tchar (RFC 9110 §5.6.2)") {
    CHECK(is_token("GET"));
    CHECK(is_token("X-Request-Id"));
    CHECK(is_token("!#$%&'*+-.^_`|~09azAZ"));
    CHECK_FALSE(is_token(""));
    for (char c : std::string("\"(),/:;<=>?@[\\]{} \t\r\n\x7f")) CHECK_FALSE(is_token(std::string("a") + c));
    CHECK_FALSE(is_token(std::string("a\0b", 3)));
}

TEST_CASE("is_token and is_field_value do not depend on the locale") {
    // In a Latin-1 locale isalnum(0xE9) ('é') is true: the config check that used it accepted
    // "café" as a token, which the proxy's parser refuses. Where no such locale is installed the
    // checks run in the C locale, and must give the same answers.
    const char* set = std::setlocale(LC_CTYPE, "en_US.ISO-8859-1");
    if (!set) set = std::setlocale(LC_CTYPE, "de_DE.ISO-8859-1");
    const std::string e_acute = "caf\xe9";
    CHECK_FALSE(is_token(e_acute));
    CHECK(is_field_value(e_acute));  // obs-text is allowed in a value (RFC 9110 §5.5)
    if (set) std::setlocale(LC_CTYPE, "C");
}

TEST_CASE("is_field_value: field-vchar, SP and HTAB inside, nothing at the ends (RFC 9110 §5.5)") {
    CHECK(is_field_value(""));
    CHECK(is_field_value("text/html; charset=utf-8"));
    CHECK(is_field_value("a\tb"));
    CHECK_FALSE(is_field_value(" a"));
    CHECK_FALSE(is_field_value("a "));
    CHECK_FALSE(is_field_value("\ta"));
    CHECK_FALSE(is_field_value("a\r\nInjected: 1"));
    CHECK_FALSE(is_field_value("a\nb"));
    CHECK_FALSE(is_field_value(std::string("a\0b", 3)));
    CHECK_FALSE(is_field_value("a\x7f"));
    CHECK_FALSE(is_field_value("a\x01"));
}

TEST_CASE("field_content_prefix: eight bytes at a time, the same answer as byte by byte") {
    // Every byte value at every position of values up to 24 bytes long (the word loop, the
    // words after a stop, the tail), beside a plain loop over the character classes.
    auto reference = [](const std::string& s) {
        for (size_t i = 0; i < s.size(); ++i)
            if (!lbd::http1::is_field_vchar(s[i]) && !lbd::http1::is_ows(s[i])) return i;
        return s.size();
    };
    for (size_t length = 1; length <= 24; ++length) {
        for (size_t at = 0; at < length; ++at) {
            for (int byte = 0; byte < 256; ++byte) {
                std::string value(length, 'a');
                value[at] = static_cast<char>(byte);
                REQUIRE(field_content_prefix(value) == reference(value));
                value[length - 1 - (at % length)] = '\t';  // an HTAB elsewhere changes nothing
                REQUIRE(field_content_prefix(value) == reference(value));
            }
        }
    }
    CHECK(field_content_prefix("") == 0);
    CHECK(field_content_prefix("Mon, 07 Dec 2026 09:41:36 GMT") == 29);
    CHECK(field_content_prefix("text/html; charset=\xe9t\xe9") == 22);  // obs-text is content
    CHECK(field_content_prefix("0123456789abcdef\x7fxyz") == 16);
    CHECK(field_content_prefix("01234567\r\nX: y") == 8);
}

TEST_CASE("method_of: the known methods, case-sensitive (RFC 9110 §9.1)") {
    using lbd::http1::HttpMethod;
    CHECK(lbd::http1::method_of("GET") == HttpMethod::kGet);
    CHECK(lbd::http1::method_of("HEAD") == HttpMethod::kHead);
    CHECK(lbd::http1::method_of("head") == HttpMethod::kOther);
    CHECK(lbd::http1::method_of("PURGE") == HttpMethod::kOther);
}
