// The config checks of access control and basic auth
// (l7/config/config_access.cc): every mistake at file:line:col, mistakes
// inside a prefix or htpasswd file with that file's own line:col; and the
// password check and Authorization parsing of l7/basic_auth.h.
#include <doctest/doctest.h>

#include <string>

#include "core/config/config_loader.h"
#include "l7/basic_auth.h"
#include "tests/support/lbd_process.h"
#include "tests/unit/config_test_kit.h"

namespace lbd {
namespace {

using test::all_errors;
using test::column_of;
using test::expect_error_on_line;
using test::line_of;

// Real hashes of "secret", made with htpasswd and mkpasswd.
const std::string kBcrypt = "$2y$05$Bw1dn2SdOwjF3w57j2Jthem5uElsx0vtDDSajdndF7n9yXmird1Gm";
const std::string kSha512 =
    "$6$914sw0uxF76g2m2A$uUhbvebtm8.e8NYsh7WavIK1uRxOmEghCXLDNVpbh6FYFDWEVNi.8ThR1xgY6ZHVXzn4J.GPyzSDdNPorJHs..";
const std::string kYescrypt = "$y$j9T$V7duiNTKswpyw.CbnFJF10$Z1gOd3eqwYpIixwvKh/gTq8HTfM1mt8jRy54/.mXH43";

std::string config(const std::string& global, const std::string& http) {
    return "global {\n" + global +
           "}\n"
           "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n  http {\n" +
           http + "  }\n}\npools { name: \"web\" servers { name: \"a\" address: \"127.0.0.1:1\" } }\n";
}

const std::string kOffice = "  acl_lists { name: \"office\" prefixes: \"192.168.1.0/24\" }\n";

TEST_CASE("acl lists and access rules: a valid config loads, lists built") {
    test::TempDir dir;
    const std::string file = dir.write_file("list.txt", "# feed\n10.0.0.0/8\n2001:db8::/32 # doc\n");
    const std::string text = config(kOffice + "  acl_lists { name: \"feed\" file: \"" + file + "\" prefixes: [] }\n",
                                    "    access { rules { deny: \"feed\" } rules { allow: \"office\" } rules { deny: \"all\" } }\n"
                                    "    routes { match { path_prefix: \"/p\" } pool: \"web\" access { rules { allow: \"all\" } } }\n");
    ConfigLoadResult result = load_config_text(text, "test.conf");
    INFO(all_errors(result));
    REQUIRE(result.config);
    const Config& c = *result.config;
    REQUIRE(c.global.acl_lists.size() == 2);
    CHECK(c.global.acl_lists[1].prefixes->size() == 2);
    REQUIRE(c.listeners[0].http.access);
    CHECK(c.listeners[0].http.access->rules.size() == 3);
    CHECK(c.listeners[0].http.access->rules[2].list == "all");
    CHECK_FALSE(c.listeners[0].http.access->rules[2].allow);
    REQUIRE(c.listeners[0].http.routes[0].access);
    CHECK(c.listeners[0].http.routes[0].access->rules[0].allow);
}

TEST_CASE("acl mistakes at their line: bad prefix, host bits, unknown list, reserved name, empty rules") {
    expect_error_on_line(config("  acl_lists { name: \"x\" prefixes: \"10.0.0.1/8\" }\n", ""), "prefixes",
                         "acl list 'x': bad prefix '10.0.0.1/8': host bits set (the network is 10.0.0.0/8)");
    expect_error_on_line(config("  acl_lists { name: \"x\" prefixes: \"300.1.1.1\" }\n", ""), "prefixes",
                         "acl list 'x': bad prefix '300.1.1.1': not an IP address");
    expect_error_on_line(config(kOffice, "    access {\n rules { deny: \"offce\" } }\n"), "deny",
                         "unknown acl list 'offce' (define it in global.acl_lists, or write \"all\")");
    expect_error_on_line(
        config(kOffice, "    routes { match { path_prefix: \"/p\" } pool: \"web\"\n access { rules { allow: \"nope\" } } }\n"),
        "allow", "unknown acl list 'nope' (define it in global.acl_lists, or write \"all\")");
    expect_error_on_line(config("  acl_lists { name: \"all\" prefixes: [] }\n", ""), "name: \"all\"",
                         "acl list name \"all\" is reserved for every address");
    expect_error_on_line(config("", "    access { }\n"), "access",
                         "access has no rules (write `rules { deny: \"all\" }` or remove it)");
    // An empty list is fine: lbctl fills it at run time.
    CHECK(load_config_text(config("  acl_lists { name: \"x\" }\n", "    access { rules { deny: \"x\" } }\n"), "t").config);
    // The column too: the value of the bad prefix's field.
    const std::string text = config("  acl_lists { name: \"x\"\n    prefixes: \"10.0.0.0/33\" }\n", "");
    ConfigLoadResult result = load_config_text(text, "test.conf");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].column == column_of(text, "prefixes"));
}

TEST_CASE("a prefix file's mistake names the config line and the file's own line:col") {
    test::TempDir dir;
    const std::string file = dir.write_file("bad.txt", "10.0.0.0/8\n  # fine\n   192.168.1.7/24\n");
    expect_error_on_line(config("  acl_lists { name: \"x\"\n file: \"" + file + "\" }\n", ""), "file:",
                         "acl list 'x': " + file + ":3:4: '192.168.1.7/24': host bits set (the network is 192.168.1.0/24)");
    expect_error_on_line(config("  acl_lists { name: \"x\"\n file: \"/nonexistent/list.txt\" }\n", ""), "file:",
                         "acl list 'x': /nonexistent/list.txt: cannot open: No such file or directory");
}

std::string auth_route(const std::string& basic_auth) {
    return "    routes { name: \"admin\" match { path_prefix: \"/admin\" } pool: \"web\"\n      basic_auth { " + basic_auth +
           " } }\n";
}

TEST_CASE("basic_auth: strong hashes load; weak ones, a missing file and a bad realm are refused at their line") {
    test::TempDir dir;
    const std::string good = dir.write_file("good", "# users\nalice:" + kBcrypt + "\nbob:" + kSha512 + "\ncarol:" + kYescrypt + "\n");
    ConfigLoadResult ok = load_config_text(
        config("", auth_route("realm: \"Admin area\" htpasswd_file: \"" + good + "\"")), "test.conf");
    INFO(all_errors(ok));
    REQUIRE(ok.config);
    const auto& auth = ok.config->listeners[0].http.routes[0].basic_auth;
    REQUIRE(auth);
    CHECK(auth->users.size() == 3);
    CHECK(auth->cache_ms == 60000);
    CHECK_FALSE(auth->forward_authorization);

    const std::string weak = dir.write_file(
        "weak", "alice:" + kBcrypt + "\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\ncarol:$apr1$roXpG4f7$f6LwzvJzQ9pHqBPqAGGhx.\n"
                "dave:6ge9bh2S2rdNQ\nerin:secret\n");
    const std::string text = config("", auth_route("realm: \"r\"\n htpasswd_file: \"" + weak + "\""));
    ConfigLoadResult refused = load_config_text(text, "test.conf");
    REQUIRE(refused.errors.size() == 4);
    const std::string what = "route 'admin' basic_auth: " + weak;
    CHECK(refused.errors[0].message == what + ":2:5: user 'bob' has a weak {SHA} hash (one unsalted SHA-1); "
                                              "rehash it with `htpasswd -B` or `mkpasswd -m yescrypt`");
    CHECK(refused.errors[0].line == line_of(text, "htpasswd_file"));
    CHECK(refused.errors[1].message.find(":3:7: user 'carol' has a weak MD5-crypt hash") != std::string::npos);
    CHECK(refused.errors[2].message.find(":4:6: user 'dave' has a weak DES crypt hash") != std::string::npos);
    CHECK(refused.errors[3].message.find(":5:6: user 'erin' has no supported hash") != std::string::npos);

    expect_error_on_line(config("", auth_route("realm: \"r\"\n htpasswd_file: \"/nonexistent/users\"")), "htpasswd_file",
                         "route 'admin' basic_auth: cannot read /nonexistent/users: No such file or directory");
    expect_error_on_line(config("", auth_route("realm: \"a \\\"b\\\"\"\n htpasswd_file: \"" + good + "\"")), "realm",
                         "route 'admin' basic_auth: realm must be printable ASCII without '\"' or '\\', not empty");
}

TEST_CASE("password checks: bcrypt, sha-crypt, yescrypt; wrong passwords and malformed hashes fail") {
    for (const std::string& hash : {kBcrypt, kSha512, kYescrypt}) {
        CHECK(l7::verify_password("secret", hash));
        CHECK_FALSE(l7::verify_password("Secret", hash));
        CHECK_FALSE(l7::verify_password("", hash));
    }
    CHECK_FALSE(l7::verify_password("secret", "*"));
    CHECK_FALSE(l7::verify_password("secret", "$2y$05$short"));
}

TEST_CASE("Authorization: Basic parsing") {
    auto creds = l7::parse_basic_credentials("Basic YWxpY2U6c2VjcmV0");  // alice:secret
    REQUIRE(creds);
    CHECK(creds->first == "alice");
    CHECK(creds->second == "secret");
    auto colon = l7::parse_basic_credentials("basic   YTpiOmM=");  // a:b:c, the password keeps its colon
    REQUIRE(colon);
    CHECK(colon->second == "b:c");
    CHECK_FALSE(l7::parse_basic_credentials("Basic YQ"));         // no padding
    CHECK_FALSE(l7::parse_basic_credentials("Basic YWJj"));       // "abc": no colon
    CHECK_FALSE(l7::parse_basic_credentials("Bearer YTpi"));
    CHECK_FALSE(l7::parse_basic_credentials("Basic Y?pi"));
    CHECK_FALSE(l7::parse_basic_credentials("Basic"));
}

}  // namespace
}  // namespace lbd
