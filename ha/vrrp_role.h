// The node's role in the pair, from two witnesses: what keepalived says (its
// notify FIFO) and whether the virtual IP is really on the interface (netlink
// address events). keepalived decides; the VIP confirms. lbd reports MASTER
// only when both agree, so a node never claims traffic it cannot receive.
//
//             FIFO BACKUP                  FIFO MASTER
//   STARTING ------------> BACKUP ------------------------> MASTER_PENDING
//      |                    ^  ^                                |      ^
//      |                    |  |     FIFO BACKUP                | VIP  | VIP
//      |                    |  +--------------------------------+ added| removed
//      |                    |                                   v      |
//      |                    |        FIFO BACKUP             MASTER ---+
//      |                    +-----------------------------------+
//      |  FIFO FAULT / STOP (from any state)
//      +-------------------------------------------------> FAULT
//
// A VIP seen before keepalived's MASTER line is remembered, so the order of
// the two witnesses does not matter. Pure logic: the FIFO reader and the
// netlink watch feed it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lbd::ha {

enum class NodeRole : uint8_t { kStarting, kBackup, kMasterPending, kMaster, kFault };
const char* to_string(NodeRole role);

// keepalived's state for a VRRP instance, as written to the notify FIFO.
enum class VrrpState : uint8_t { kBackup, kMaster, kFault, kStop };

// One line of keepalived's notify FIFO: `INSTANCE "VI_51" MASTER 150`.
struct NotifyLine {
    std::string instance;
    VrrpState state = VrrpState::kBackup;
    int priority = 0;
};

// nullopt for lines that are not about a VRRP instance (GROUP lines,
// tracking notices) or are malformed: the reader skips them.
std::optional<NotifyLine> parse_notify_line(std::string_view line);

class RoleMachine {
public:
    explicit RoleMachine(std::string instance) : instance_(std::move(instance)) {}

    NodeRole role() const { return role_; }
    bool vip_present() const { return vip_present_; }

    // Each returns true when the role changed. Lines about other instances
    // are ignored.
    bool on_notify(const NotifyLine& line);
    bool on_vip(bool present);

private:
    bool set(NodeRole next);

    std::string instance_;
    NodeRole role_ = NodeRole::kStarting;
    VrrpState keepalived_ = VrrpState::kBackup;
    bool keepalived_known_ = false;
    bool vip_present_ = false;
};

}  // namespace lbd::ha
