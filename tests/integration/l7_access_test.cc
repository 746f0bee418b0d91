// Access control on a real lbd with curl: allow/deny rules in order, a
// route's rules replacing the listener's, the client behind a trusted proxy,
// IPv6 peers, the 403's reason in the access log, refused clients not
// counted by the rate limits, and lists changed with lbctl without a reload
// (lost at a reload unless written in the config).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/l7_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

// curl's status for `path` as seen from `client` (X-Forwarded-For through
// the trusted proxy 127.0.0.1); "" = the TCP peer itself.
int status_from(uint16_t port, const std::string& path, const std::string& client) {
    std::vector<std::string> args{"-o", "/dev/null", "-w", "%{http_code}"};
    if (!client.empty()) args.insert(args.end(), {"-H", "X-Forwarded-For: " + client});
    args.push_back(url(port, path));
    CurlRun run = curl(args);
    return run.exit_code == 0 ? std::atoi(run.output.c_str()) : -1;
}

struct AccessLbd {
    TempDir dir;
    std::string socket = dir.path() + "/admin.sock";
    std::string blocked = dir.write_file("blocked.txt", "# from the feed\n192.168.1.66   # a bad laptop\n\n");
    HttpBackend web{"web"};

    std::string config(const std::string& office_extra = "") const {
        return "global { workers: 1 drain_timeout_ms: 2000 admin { socket_path: \"" + socket +
               "\" }\n"
               "  acl_lists { name: \"office\" prefixes: [\"192.168.1.0/24\"" + office_extra + "] }\n"
               "  acl_lists { name: \"blocked\" file: \"" + blocked + "\" }\n"
               "}\n"
               "listeners {\n  name: \"front\"\n  bind: \"127.0.0.1:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n  http {\n"
               "    forwarded { trusted_proxies: \"127.0.0.1/32\" }\n"
               "    rate_limit_zones { name: \"one\" requests: 1 period_ms: 60000 }\n"
               "    access { rules { deny: \"blocked\" } rules { allow: \"office\" } rules { deny: \"all\" } }\n"
               "    routes { name: \"public\" match { path_prefix: \"/public/\" } pool: \"web\"\n"
               "             access { rules { allow: \"all\" } } rate_limits: \"one\" }\n"
               "  }\n}\n" +
               http_pool("web", {&web});
    }
    Run ctl(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--socket", socket});
        return lbctl(args);
    }
};

TEST_CASE("rules in order, first match wins; a route's rules replace the listener's; the reason is logged") {
    AccessLbd setup;
    RunningLbd lbd(setup.config());
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(status_from(lbd.port(), "/a", "192.168.1.5") == 200);    // allow office
    CHECK(status_from(lbd.port(), "/b", "192.168.1.66") == 403);   // deny blocked comes first
    CHECK(status_from(lbd.port(), "/c", "10.0.0.1") == 403);       // deny all
    CHECK(status_from(lbd.port(), "/d", "") == 403);               // the peer itself, no header
    CHECK(setup.web.requests() == 1);
    CHECK(lbd->await_line(" path=/b status=403 ", kIoTimeoutMs).value_or("").find("term=acl_denied reason=acl:blocked") !=
          std::string::npos);
    CHECK(lbd->await_line(" path=/c status=403 ", kIoTimeoutMs).value_or("").find("term=acl_denied reason=acl:all") !=
          std::string::npos);
    // The public route allows everyone, and its rate limit (1 a minute per
    // client) never counted the refused requests of 10.0.0.1 above.
    CHECK(status_from(lbd.port(), "/public/x", "10.0.0.1") == 200);
    CHECK(status_from(lbd.port(), "/public/x", "10.0.0.1") == 429);
}

// Every spelling of a guarded path that the server would resolve to it
// meets the guard (core/http1/path.h); normalize_path: false turns that off.
TEST_CASE("a route's access rules are not walked around by another spelling of its path") {
    HttpBackend web{"web"};
    auto config = [&](const std::string& http_extra) {
        return "global { workers: 1 }\n"
               "listeners { name: \"front\" bind: \"127.0.0.1:0\" mode: MODE_HTTP pool: \"web\"\n"
               "  http { " + http_extra + "\n"
               "    routes { match { path_prefix: \"/admin/\" } pool: \"web\" access { rules { deny: \"all\" } } }\n"
               "  }\n}\n" + http_pool("web", {&web});
    };
    const std::vector<std::string> spellings = {"/%61dmin/x", "//admin/x", "/./admin/x", "/foo/../admin/x",
                                                "/%2e%2E/admin/x", "/admin/./x", "/static/%2E%2E/admin//x"};
    auto status = [](uint16_t port, const std::string& path) {
        auto reply = http_request(port, get_request(path), kIoTimeoutMs);
        return reply ? reply->status : -1;
    };
    {
        RunningLbd lbd(config(""));
        INFO(lbd->log());
        REQUIRE(lbd.ok());
        CHECK(status(lbd.port(), "/admin/x") == 403);
        for (const std::string& path : spellings) {
            INFO(path);
            CHECK(status(lbd.port(), path) == 403);
        }
        // What the server gets is the normalised path; the query is not touched.
        CHECK(status(lbd.port(), "/a/./b//c/../%7Ed?x=/../y") == 200);
        const std::vector<std::string> heads = web.heads();
        REQUIRE(!heads.empty());
        CHECK(heads.back().rfind("GET /a/b/~d?x=/../y HTTP/1.1\r\n", 0) == 0);
        // An encoded slash stays one: not a segment of /admin/.
        CHECK(status(lbd.port(), "/admin%2Fx") == 200);
        CHECK(web.heads().back().rfind("GET /admin%2Fx HTTP/1.1\r\n", 0) == 0);
    }
    RunningLbd raw(config("normalize_path: false"));
    INFO(raw->log());
    REQUIRE(raw.ok());
    CHECK(status(raw.port(), "/admin/x") == 403);
    CHECK(status(raw.port(), "/%61dmin/x") == 200);
    CHECK(web.heads().back().rfind("GET /%61dmin/x HTTP/1.1\r\n", 0) == 0);
}

TEST_CASE("lbctl changes a list at once without a reload; a reload keeps only what the config says") {
    AccessLbd setup;
    RunningLbd lbd(setup.config());
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CHECK(status_from(lbd.port(), "/", "10.1.2.3") == 403);
    Run add = setup.ctl({"acl", "add", "office", "10.0.0.0/8", "2001:db8::/32"});
    CHECK(add.exit_code == 0);
    CHECK(has(add.output, "acl office: 3 prefixes"));
    CHECK(status_from(lbd.port(), "/", "10.1.2.3") == 200);
    CHECK(status_from(lbd.port(), "/", "2001:db8::7") == 200);
    Run show = setup.ctl({"acl", "show", "office"});
    CHECK(has(show.output, "  10.0.0.0/8\n"));
    CHECK(has(show.output, "  192.168.1.0/24\n"));
    CHECK(has(setup.ctl({"acl", "show"}).output, "blocked"));
    CHECK(setup.ctl({"acl", "add", "office", "10.0.0.1/8"}).exit_code == 1);  // host bits: refused
    CHECK(setup.ctl({"acl", "add", "nosuch", "10.0.0.0/8"}).exit_code == 1);
    // del takes it away again; deleting what is not there is an error.
    CHECK(setup.ctl({"acl", "del", "office", "10.0.0.0/8"}).exit_code == 0);
    CHECK(status_from(lbd.port(), "/", "10.1.2.3") == 403);
    CHECK(setup.ctl({"acl", "del", "office", "10.0.0.0/8"}).exit_code == 1);
    // load replaces the blocked list from a file: .66 is let in, .5 is out.
    const std::string feed = setup.dir.write_file("feed.txt", "192.168.1.5\n");
    CHECK(setup.ctl({"acl", "load", "blocked", feed}).exit_code == 0);
    CHECK(status_from(lbd.port(), "/", "192.168.1.66") == 200);
    CHECK(status_from(lbd.port(), "/", "192.168.1.5") == 403);

    // A reload rebuilds the lists from the config: the runtime changes are
    // gone (.66 blocked again by its file, 2001:db8:: out), and a prefix
    // written into the config survives.
    CHECK(setup.ctl({"acl", "add", "office", "10.0.0.0/8"}).exit_code == 0);
    REQUIRE(reload_lbd(lbd, setup.config(", \"172.16.0.0/12\""), "reload applied", 1));
    CHECK(status_from(lbd.port(), "/", "192.168.1.66") == 403);
    CHECK(status_from(lbd.port(), "/", "192.168.1.5") == 200);
    CHECK(status_from(lbd.port(), "/", "10.1.2.3") == 403);
    CHECK(status_from(lbd.port(), "/", "2001:db8::7") == 403);
    CHECK(status_from(lbd.port(), "/", "172.16.4.4") == 200);
}

TEST_CASE("an IPv6 listener matches its peers by their IPv6 address") {
    TempDir dir;
    const std::string socket = dir.path() + "/admin.sock";
    HttpBackend web("web");
    RunningLbd lbd("global { workers: 1 drain_timeout_ms: 2000 admin { socket_path: \"" + socket + "\" }\n"
                   "  acl_lists { name: \"local6\" prefixes: \"::1/128\" }\n"
                   "  acl_lists { name: \"doc6\" prefixes: \"2001:db8::/32\" }\n}\n"
                   "listeners {\n  name: \"front\"\n  bind: \"[::1]:0\"\n  mode: MODE_HTTP\n  pool: \"web\"\n  http {\n"
                   "    access { rules { allow: \"doc6\" } rules { deny: \"local6\" } }\n  }\n}\n" +
                   http_pool("web", {&web}));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::string v6 = "http://[::1]:" + std::to_string(lbd.port()) + "/six";
    auto status = [&] {
        std::string out = curl({"-g", "-o", "/dev/null", "-w", "%{http_code}", v6}).output;
        return out.substr(0, out.find_first_of("\r\n"));
    };
    CHECK(status() == "403");
    CHECK(lbd->await_line("reason=acl:local6", kIoTimeoutMs));
    CHECK(lbctl({"--socket", socket, "acl", "del", "local6", "::1"}).exit_code == 0);
    CHECK(status() == "200");  // no rule matches: allowed
    CHECK(lbctl({"--socket", socket, "acl", "add", "local6", "::/0"}).exit_code == 0);
    CHECK(status() == "403");
    CHECK(lbctl({"--socket", socket, "acl", "add", "doc6", "::1"}).exit_code == 0);
    CHECK(status() == "200");  // allow doc6 is the first rule
}

}  // namespace
}  // namespace lbd::test
