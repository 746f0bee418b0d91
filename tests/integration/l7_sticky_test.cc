// Cookie stickiness and weighted splits against the real lbd, with curl and raw sockets in front
// and in-process HTTP backends (which answer "server=NAME" and echo the request head they got):
// INSERT cookies (opaque, stripped before the server, rewritten when their server cannot take
// the request), LEARN of the application's session cookie, a 90/10 split, and stickiness across
// a split. The HA replication of learned cookies is in ha_sync_test.cc.
#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>

#include "lbd/v1/admin.pb.h"
#include "tests/integration/l7_scenario.h"
#include "tests/integration/lbctl_run.h"

namespace lbd::test {
namespace {

// The http_config of l7_scenario.h with an admin socket in `dir`.
std::string admin_config(const TempDir& dir, const std::string& pools, const std::string& http_body,
                         const std::string& listener_extra = "  pool: \"web\"\n") {
    std::string text = http_config(pools, http_body, listener_extra);
    const std::string plain = "global { workers: 2 drain_timeout_ms: 2000 }";
    REQUIRE(text.rfind(plain, 0) == 0);
    return "global { workers: 2 drain_timeout_ms: 2000 admin { socket_path: \"" + dir.path() + "/admin.sock\" } }" +
           text.substr(plain.size());
}

Run ctl(const TempDir& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", dir.path() + "/admin.sock"});
    return lbctl(args);
}

const std::string kInsert =
    "  stickiness { cookie { name: \"LBSRV\" mode: INSERT path: \"/\" secure: true http_only: true "
    "same_site: \"Lax\" } }\n";
const std::string kLearn = "  stickiness { ttl_ms: 600000 cookie { name: \"JSESSIONID\" mode: LEARN } }\n";

// The backend that answered ("a"), from the first body line "server=a".
std::string server_of(const HttpReply& reply) {
    std::string first = reply.body.substr(0, reply.body.find('\n'));
    return first.rfind("server=", 0) == 0 ? first.substr(7) : "<" + first + ">";
}

std::string server_of(const std::optional<HttpReply>& reply) { return reply ? server_of(*reply) : "<none>"; }

// The value of the cookie `name` in the reply's Set-Cookie, or "".
std::string set_cookie_value(const HttpReply& reply, const std::string& name) {
    std::string set = reply.header("set-cookie");
    if (set.rfind(name + "=", 0) != 0) return "";
    return set.substr(name.size() + 1, set.find(';') - name.size() - 1);
}

std::optional<HttpReply> get_with_cookie(uint16_t port, const std::string& cookie, const std::string& path = "/") {
    return http_request(port, get_request(path, "example.com", cookie.empty() ? "" : "Cookie: " + cookie + "\r\n"),
                        kIoTimeoutMs);
}

// Logs in (/login) until each of the three servers has set a JSESSIONID: server -> session.
// Every login reply goes to `replies` too, when given.
std::map<std::string, std::string> sessions_on_each_server(uint16_t port, std::vector<HttpReply>* replies = nullptr) {
    std::map<std::string, std::string> session_of;
    for (int i = 0; i < 30 && session_of.size() < 3; ++i) {
        auto login = get_with_cookie(port, "", "/login");
        if (!login) break;
        session_of[server_of(*login)] = set_cookie_value(*login, "JSESSIONID");
        if (replies != nullptr) replies->push_back(*login);
    }
    return session_of;
}

// How many of the bodies in curl's output came from each backend.
std::map<std::string, int> count_servers(const std::string& output) {
    std::map<std::string, int> counts;
    for (size_t at = output.find("server="); at != std::string::npos; at = output.find("server=", at + 1)) {
        size_t end = output.find('\n', at);
        ++counts[output.substr(at + 7, end - at - 7)];
    }
    return counts;
}

TEST_CASE("INSERT: a jar-less client is balanced, a client with a jar stays on one server for 200 requests") {
    // Names with no hex digit, so that a cookie holding one would show.
    HttpBackend a("north"), b("south"), c("west");
    TempDir dir;
    RunningLbd lbd(admin_config(dir, http_pool("web", {&a, &b, &c}, kInsert), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Without a cookie: round robin, and each answer sets the cookie of the server that gave it.
    std::map<std::string, std::string> id_of;  // server -> cookie value
    for (int i = 0; i < 30; ++i) {
        auto reply = get_with_cookie(lbd.port(), "");
        REQUIRE(reply);
        INFO(reply->head);
        const std::string value = set_cookie_value(*reply, "LBSRV");
        REQUIRE(!value.empty());
        CHECK(reply->header("set-cookie") == "LBSRV=" + value + "; Path=/; Secure; HttpOnly; SameSite=Lax");
        CHECK(reply->header("cache-control") == "no-cache=\"Set-Cookie\"");
        auto [it, inserted] = id_of.emplace(server_of(*reply), value);
        CHECK(it->second == value);  // stable: the same server always gets the same value
    }
    REQUIRE(id_of.size() == 3);

    // The value is the server's opaque id: no address, port, name or position in the pool.
    auto servers = parse_json<::lbd::v1::ServersReply>(ctl(dir, {"--json", "servers"}).output);
    REQUIRE(servers.has_value());
    for (const auto& s : servers->servers()) CHECK(id_of.at(s.name()) == s.id());
    for (const auto& [name, value] : id_of) {
        CHECK(value.size() == 16);
        for (char ch : value) CHECK(std::isxdigit(static_cast<unsigned char>(ch)));
        for (const HttpBackend* backend : {&a, &b, &c}) CHECK_FALSE(has(value, std::to_string(backend->port())));
        CHECK_FALSE(has(value, "127"));
        CHECK_FALSE(has(value, name));
        CHECK(value.find_first_not_of("0123") != std::string::npos);  // not an ordinal
    }

    // curl with a cookie jar: 200 requests on one server, which never sees lbd's cookie.
    const std::string jar = dir.path() + "/jar";
    CurlRun run = curl({"-b", jar, "-c", jar, "-H", "Cookie: theme=dark", url(lbd.port(), "/jar[1-200]")}, 30000);
    CHECK(run.exit_code == 0);
    std::map<std::string, int> counts = count_servers(run.output);
    INFO(run.output.substr(0, 2000));
    REQUIRE(counts.size() == 1);
    CHECK(counts.begin()->second == 200);
    CHECK_FALSE(has(run.output, "LBSRV"));        // the echoed heads: stripped before the server
    CHECK(has(run.output, "Cookie: theme=dark"));  // the client's other cookies go on

    // Mixed with other cookies, several Cookie headers, names that contain ours.
    const std::string b_id = id_of.at("south");
    auto mixed = http_request(lbd.port(),
                              get_request("/mixed", "example.com",
                                          "Cookie: XLBSRV=" + b_id + ";LBSRV2=x\r\nCookie: theme=dark;  "
                                          "LBSRV=\"" + b_id + "\" ; lang=en\r\n"),
                              kIoTimeoutMs);
    REQUIRE(mixed);
    CHECK(server_of(*mixed) == "south");
    CHECK(mixed->header("set-cookie").empty());  // the cookie was right: nothing to set
    CHECK(has(mixed->body, "Cookie: XLBSRV=" + b_id + ";LBSRV2=x\r\n"));  // untouched
    CHECK(has(mixed->body, "Cookie: theme=dark; lang=en\r\n"));
}

TEST_CASE("INSERT: a drained, a dead or an unknown server's cookie is re-placed and rewritten") {
    HttpBackend a("a"), b("b");
    TempDir dir;
    RunningLbd lbd(admin_config(dir, http_pool("web", {&a, &b}, kInsert), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    // Each worker has its own round robin: a few connections to see both servers.
    std::map<std::string, std::string> id_of;
    for (int i = 0; i < 20 && id_of.size() < 2; ++i) {
        auto reply = get_with_cookie(lbd.port(), "");
        REQUIRE(reply);
        id_of[server_of(*reply)] = set_cookie_value(*reply, "LBSRV");
    }
    REQUIRE(id_of.size() == 2);

    // Unknown (say, a server since removed): placed by the balancer, given a real cookie.
    auto unknown = get_with_cookie(lbd.port(), "LBSRV=00000000deadbeef");
    REQUIRE(unknown);
    CHECK(id_of.at(server_of(*unknown)) == set_cookie_value(*unknown, "LBSRV"));

    // Drained: a's clients move to b, and their cookie says so.
    REQUIRE(ctl(dir, {"server", "drain", "web/a"}).exit_code == 0);
    for (int i = 0; i < 5; ++i) {
        auto moved = get_with_cookie(lbd.port(), "LBSRV=" + id_of.at("a"));
        REQUIRE(moved);
        CHECK(server_of(*moved) == "b");
        CHECK(set_cookie_value(*moved, "LBSRV") == id_of.at("b"));
    }
    REQUIRE(ctl(dir, {"server", "enable", "web/a"}).exit_code == 0);
    CHECK(server_of(get_with_cookie(lbd.port(), "LBSRV=" + id_of.at("a"))) == "a");

    // Dead: the connect fails, the retry goes to a, and the cookie follows.
    b.stop();
    auto rescued = get_with_cookie(lbd.port(), "LBSRV=" + id_of.at("b"));
    REQUIRE(rescued);
    CHECK(rescued->status == 200);
    CHECK(server_of(*rescued) == "a");
    CHECK(set_cookie_value(*rescued, "LBSRV") == id_of.at("a"));
}

TEST_CASE("LEARN: the application's session cookie sticks to the server that set it") {
    HttpBackend a("a"), b("b"), c("c");
    TempDir dir;
    RunningLbd lbd(admin_config(dir, http_pool("web", {&a, &b, &c}, kLearn), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Logins land on the three servers (round robin), each setting its own session.
    std::vector<HttpReply> logins;
    const std::map<std::string, std::string> session_of = sessions_on_each_server(lbd.port(), &logins);
    REQUIRE(session_of.size() == 3);
    for (const HttpReply& login : logins) CHECK(login.header("cache-control").empty());  // nothing added in LEARN

    for (const auto& [server, session] : session_of) {
        for (int i = 0; i < 20; ++i) {
            auto reply = get_with_cookie(lbd.port(), "theme=dark; JSESSIONID=" + session);
            REQUIRE(reply);
            CHECK(server_of(*reply) == server);
            CHECK(has(reply->body, "Cookie: theme=dark; JSESSIONID=" + session + "\r\n"));  // not stripped
        }
    }

    auto table = parse_json<::lbd::v1::StickShowReply>(ctl(dir, {"--json", "stick", "show", "web"}).output);
    REQUIRE(table.has_value());
    std::map<std::string, std::string> learned;
    for (const auto& e : table->entries()) learned[e.key()] = e.server();
    for (const auto& [server, session] : session_of) CHECK(learned[session] == server);

    // An unknown session is placed, then kept where it was placed.
    auto first = get_with_cookie(lbd.port(), "JSESSIONID=from-elsewhere");
    REQUIRE(first);
    for (int i = 0; i < 10; ++i) CHECK(server_of(get_with_cookie(lbd.port(), "JSESSIONID=from-elsewhere")) ==
                                       server_of(*first));

    // Its server drained: re-placed, and the session now sticks to the new one.
    const std::string old_server = session_of.begin()->first, session = session_of.begin()->second;
    REQUIRE(ctl(dir, {"server", "drain", "web/" + old_server}).exit_code == 0);
    std::string moved_to = server_of(get_with_cookie(lbd.port(), "JSESSIONID=" + session));
    CHECK(moved_to != old_server);
    REQUIRE(ctl(dir, {"server", "enable", "web/" + old_server}).exit_code == 0);
    for (int i = 0; i < 5; ++i) CHECK(server_of(get_with_cookie(lbd.port(), "JSESSIONID=" + session)) == moved_to);
}

TEST_CASE("LEARN: a reload keeps the learned sessions") {
    HttpBackend a("a"), b("b"), c("c");
    TempDir dir;
    RunningLbd lbd(admin_config(dir, http_pool("web", {&a, &b, &c}, kLearn), ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    const std::map<std::string, std::string> session_of = sessions_on_each_server(lbd.port());
    REQUIRE(session_of.size() == 3);

    // Another timeout: the pool and its table carry over. Round robin starts afresh, so a lost
    // table would send two requests in three elsewhere.
    REQUIRE(reload_lbd(lbd, admin_config(dir, http_pool("web", {&a, &b, &c}, kLearn),
                                         "    timeouts { client_header_ms: 9000 }\n"),
                       "reload applied", 1));
    for (const auto& [server, session] : session_of)
        for (int i = 0; i < 12; ++i) CHECK(server_of(get_with_cookie(lbd.port(), "JSESSIONID=" + session)) == server);
}

TEST_CASE("split: 90/10 between two pools over 1000 requests") {
    HttpBackend v1("v1"), v2("v2");
    RunningLbd lbd(http_config(http_pool("v1", {&v1}) + http_pool("v2", {&v2}),
                               "    routes {\n"
                               "      name: \"canary\"\n"
                               "      split { pools { pool: \"v1\" weight: 90 } pools { pool: \"v2\" weight: 10 } }\n"
                               "    }\n",
                               ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());
    CurlRun run = curl({url(lbd.port(), "/r[1-1000]")}, 60000);
    CHECK(run.exit_code == 0);
    std::map<std::string, int> counts = count_servers(run.output);
    MESSAGE("v1 ", counts["v1"], ", v2 ", counts["v2"]);
    CHECK(counts["v1"] + counts["v2"] == 1000);
    CHECK(counts["v1"] >= 850);
    CHECK(counts["v1"] <= 950);
    auto line = lbd->await_line(http_line_for("/r1000"), kIoTimeoutMs);
    REQUIRE(line);
    CHECK(field(*line, "route") == "canary");
}

TEST_CASE("split with cookies: a client placed on the canary stays there; its server drained, it falls back") {
    HttpBackend v1a("v1a"), v1b("v1b"), v2a("v2a");
    TempDir dir;
    const std::string pools = http_pool("v1", {&v1a, &v1b}, kInsert) + http_pool("v2", {&v2a}, kInsert);
    RunningLbd lbd(admin_config(dir, pools,
                                "    routes {\n"
                                "      split { pools { pool: \"v1\" weight: 90 } pools { pool: \"v2\" weight: 10 } }\n"
                                "    }\n",
                                ""));
    INFO(lbd->log());
    REQUIRE(lbd.ok());

    // Jar-less clients until one lands on the canary.
    std::string canary_cookie;
    for (int i = 0; i < 20 && canary_cookie.empty(); ++i) {
        auto reply = get_with_cookie(lbd.port(), "");
        REQUIRE(reply);
        if (server_of(*reply) == "v2a") canary_cookie = set_cookie_value(*reply, "LBSRV");
    }
    REQUIRE(!canary_cookie.empty());
    for (int i = 0; i < 50; ++i) CHECK(server_of(get_with_cookie(lbd.port(), "LBSRV=" + canary_cookie)) == "v2a");

    // A v1 client stays on its v1 server too (weights do not move it).
    auto v1_reply = get_with_cookie(lbd.port(), "");
    REQUIRE(v1_reply);
    for (int i = 0; i < 10 && server_of(*v1_reply) == "v2a"; ++i) v1_reply = get_with_cookie(lbd.port(), "");
    const std::string v1_server = server_of(*v1_reply), v1_cookie = set_cookie_value(*v1_reply, "LBSRV");
    for (int i = 0; i < 20; ++i) CHECK(server_of(get_with_cookie(lbd.port(), "LBSRV=" + v1_cookie)) == v1_server);

    // The canary's only server drained: its clients fall back to the split (v1).
    REQUIRE(ctl(dir, {"server", "drain", "v2/v2a"}).exit_code == 0);
    auto moved = get_with_cookie(lbd.port(), "LBSRV=" + canary_cookie);
    REQUIRE(moved);
    CHECK(server_of(*moved).rfind("v1", 0) == 0);
}

}  // namespace
}  // namespace lbd::test
