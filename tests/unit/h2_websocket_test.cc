// The RFC 6455 handshake lbd makes for a WebSocket over HTTP/2 (l7/h2_websocket.h).
#include <doctest/doctest.h>

#include <string>

#include "l7/h2_websocket.h"

namespace lbd::l7 {
namespace {

ResponseInfo upgrade_101(const std::string& accept) {
    ResponseInfo r;
    r.status = 101;
    r.upgrade_protocol = "websocket";
    r.headers.emplace_back("Sec-WebSocket-Accept", accept);
    return r;
}

TEST_CASE("Sec-WebSocket-Accept is RFC 6455's example; fresh keys are 16 bytes of base64, each different") {
    CHECK(websocket::accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const std::string a = websocket::new_key(), b = websocket::new_key();
    CHECK(a.size() == 24);
    CHECK(a.substr(22) == "==");
    CHECK(a != b);
}

TEST_CASE("the server's 101 is accepted only with the right accept and Upgrade: websocket") {
    const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    CHECK(websocket::accepted(upgrade_101("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), key));
    CHECK_FALSE(websocket::accepted(upgrade_101("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "another key"));
    CHECK_FALSE(websocket::accepted(upgrade_101("wrong"), key));
    ResponseInfo other = upgrade_101("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    other.upgrade_protocol = "h2c";
    CHECK_FALSE(websocket::accepted(other, key));
    ResponseInfo none;
    none.status = 101;
    none.upgrade_protocol = "websocket";
    CHECK_FALSE(websocket::accepted(none, key));
}

TEST_CASE("the handshake adds lbd's key, and a version only when the client gave none") {
    RequestInfo r;
    websocket::add_handshake(r, "k");
    CHECK(*find_header(r.headers, "sec-websocket-key") == "k");
    CHECK(*find_header(r.headers, "sec-websocket-version") == "13");
    RequestInfo own;
    own.headers.emplace_back("sec-websocket-version", "8");
    websocket::add_handshake(own, "k");
    CHECK(*find_header(own.headers, "sec-websocket-version") == "8");
    CHECK(own.headers.size() == 2);
}

}  // namespace
}  // namespace lbd::l7
