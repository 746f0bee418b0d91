#include <doctest/doctest.h>

#include "ha/vrrp_role.h"

namespace lbd::ha {
namespace {

NotifyLine line(const char* text) {
    auto parsed = parse_notify_line(text);
    REQUIRE(parsed);
    return *parsed;
}

TEST_CASE("keepalived notify lines parse; others are skipped") {
    auto master = parse_notify_line("INSTANCE \"VI_51\" MASTER 150\n");
    REQUIRE(master);
    CHECK(master->instance == "VI_51");
    CHECK(master->state == VrrpState::kMaster);
    CHECK(master->priority == 150);
    CHECK(parse_notify_line("INSTANCE \"VI_51\" BACKUP 100")->state == VrrpState::kBackup);
    CHECK(parse_notify_line("INSTANCE \"VI_51\" FAULT 0")->state == VrrpState::kFault);
    CHECK(parse_notify_line("INSTANCE \"VI_51\" STOP 0")->state == VrrpState::kStop);
    CHECK_FALSE(parse_notify_line("GROUP \"G1\" MASTER 0"));
    CHECK_FALSE(parse_notify_line("INSTANCE VI_51 MASTER 150"));     // unquoted name
    CHECK_FALSE(parse_notify_line("INSTANCE \"VI_51\" LEADER 150"));  // unknown state
    CHECK_FALSE(parse_notify_line("INSTANCE \"VI_51\" MASTER x"));    // bad priority
    CHECK_FALSE(parse_notify_line("INSTANCE \"VI_51\" MASTER 1 2"));  // trailing words
    CHECK_FALSE(parse_notify_line(""));
}

TEST_CASE("MASTER is confirmed only when the VIP is on the interface, in either order") {
    RoleMachine a("VI_51");
    CHECK(a.role() == NodeRole::kStarting);
    CHECK(a.on_notify(line("INSTANCE \"VI_51\" BACKUP 150")));
    CHECK(a.role() == NodeRole::kBackup);
    CHECK(a.on_notify(line("INSTANCE \"VI_51\" MASTER 150")));
    CHECK(a.role() == NodeRole::kMasterPending);
    CHECK(a.on_vip(true));
    CHECK(a.role() == NodeRole::kMaster);

    RoleMachine b("VI_51");
    CHECK_FALSE(b.on_vip(true));  // seen first: remembered, no role yet
    CHECK(b.role() == NodeRole::kStarting);
    CHECK(b.on_notify(line("INSTANCE \"VI_51\" MASTER 150")));
    CHECK(b.role() == NodeRole::kMaster);
}

TEST_CASE("losing the VIP or a BACKUP/FAULT line leaves MASTER; other instances are ignored") {
    RoleMachine m("VI_51");
    m.on_vip(true);
    m.on_notify(line("INSTANCE \"VI_51\" MASTER 150"));
    REQUIRE(m.role() == NodeRole::kMaster);
    CHECK(m.on_vip(false));
    CHECK(m.role() == NodeRole::kMasterPending);
    CHECK(m.on_vip(true));
    CHECK_FALSE(m.on_notify(line("INSTANCE \"VI_7\" FAULT 0")));
    CHECK(m.role() == NodeRole::kMaster);
    CHECK(m.on_notify(line("INSTANCE \"VI_51\" BACKUP 150")));
    CHECK(m.role() == NodeRole::kBackup);
    CHECK_FALSE(m.on_vip(false));  // a BACKUP node losing a VIP it should not have had: no change
    CHECK(m.on_notify(line("INSTANCE \"VI_51\" FAULT 0")));
    CHECK(m.role() == NodeRole::kFault);
    CHECK(m.on_notify(line("INSTANCE \"VI_51\" BACKUP 150")));
    CHECK(m.role() == NodeRole::kBackup);
}

}  // namespace
}  // namespace lbd::ha
