#include "ha/vrrp_role.h"

#include <charconv>

namespace lbd::ha {

const char* to_string(NodeRole role) {
    switch (role) {
        case NodeRole::kStarting: return "STARTING";
        case NodeRole::kBackup: return "BACKUP";
        case NodeRole::kMasterPending: return "MASTER_PENDING";
        case NodeRole::kMaster: return "MASTER";
        case NodeRole::kFault: return "FAULT";
    }
    return "?";
}

namespace {

// Splits off the next space-separated word.
std::string_view next_word(std::string_view& rest) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        rest = {};
        return {};
    }
    rest.remove_prefix(start);
    size_t end = rest.find(' ');
    std::string_view word = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    return word;
}

}  // namespace

std::optional<NotifyLine> parse_notify_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    std::string_view rest = line;
    if (next_word(rest) != "INSTANCE") return std::nullopt;
    std::string_view name = next_word(rest);
    // keepalived quotes the name: "VI_51".
    if (name.size() < 3 || name.front() != '"' || name.back() != '"') return std::nullopt;
    NotifyLine out;
    out.instance = std::string(name.substr(1, name.size() - 2));
    std::string_view state = next_word(rest);
    if (state == "MASTER") out.state = VrrpState::kMaster;
    else if (state == "BACKUP") out.state = VrrpState::kBackup;
    else if (state == "FAULT") out.state = VrrpState::kFault;
    else if (state == "STOP") out.state = VrrpState::kStop;
    else return std::nullopt;
    std::string_view priority = next_word(rest);
    auto [end, ec] = std::from_chars(priority.data(), priority.data() + priority.size(), out.priority);
    if (ec != std::errc() || end != priority.data() + priority.size() || !next_word(rest).empty()) return std::nullopt;
    return out;
}

bool RoleMachine::set(NodeRole next) {
    if (next == role_) return false;
    role_ = next;
    return true;
}

bool RoleMachine::on_notify(const NotifyLine& line) {
    if (line.instance != instance_) return false;
    keepalived_ = line.state;
    keepalived_known_ = true;
    switch (line.state) {
        case VrrpState::kFault:
        case VrrpState::kStop: return set(NodeRole::kFault);
        case VrrpState::kBackup: return set(NodeRole::kBackup);
        case VrrpState::kMaster: return set(vip_present_ ? NodeRole::kMaster : NodeRole::kMasterPending);
    }
    return false;
}

bool RoleMachine::on_vip(bool present) {
    vip_present_ = present;
    if (!keepalived_known_ || keepalived_ != VrrpState::kMaster) return false;
    return set(present ? NodeRole::kMaster : NodeRole::kMasterPending);
}

}  // namespace lbd::ha
