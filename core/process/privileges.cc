#include "core/process/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace lbd::process {
namespace {

// The only capability lbd keeps (see privileges.h for why not the others).
constexpr cap_value_t kKept = CAP_NET_BIND_SERVICE;

using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)>;

// Sets *error to "WHAT: strerror(errno)"; returns false for `return fail(...)`.
bool fail(std::string* error, const std::string& what) {
    *error = what + ": " + std::strerror(errno);
    return false;
}

bool resolve(const RunAs& run_as, uid_t* uid, gid_t* gid, std::string* error) {
    const passwd* pw = getpwnam(run_as.user.c_str());
    if (pw == nullptr) {
        *error = "global.user " + run_as.user + ": no such user";
        return false;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (run_as.group.empty()) return true;
    const group* gr = getgrnam(run_as.group.c_str());
    if (gr == nullptr) {
        *error = "global.group " + run_as.group + ": no such group";
        return false;
    }
    *gid = gr->gr_gid;
    return true;
}

// While still root (CAP_SETPCAP): no program lbd might exec can regain
// more than it keeps. systemd's CapabilityBoundingSet does the same when lbd
// is started unprivileged.
bool empty_bounding_set(std::string* error) {
    for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        if (cap == kKept || !CAP_IS_SUPPORTED(cap)) continue;
        if (cap_drop_bound(cap) != 0)
            return fail(error, "dropping capability " + std::to_string(cap) + " from the bounding set");
    }
    return true;
}

// KEEPCAPS carries the permitted set across setuid (the effective set is
// cleared; limit_capabilities raises the one kept).
bool become(uid_t uid, gid_t gid, std::string* error) {
    if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) return fail(error, "PR_SET_KEEPCAPS");
    if (setgroups(1, &gid) != 0) return fail(error, "setgroups");
    if (setresgid(gid, gid, gid) != 0) return fail(error, "setresgid");
    if (setresuid(uid, uid, uid) != 0) return fail(error, "setresuid");
    if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) != 0) return fail(error, "PR_SET_KEEPCAPS");
    return true;
}

// Permitted and effective become {CAP_NET_BIND_SERVICE} if it was permitted
// (systemd's AmbientCapabilities gives it to an unprivileged start), else
// nothing; inheritable and ambient are emptied.
bool limit_capabilities(std::string* error) {
    CapPtr current(cap_get_proc(), &cap_free);
    if (!current) return fail(error, "cap_get_proc");
    cap_flag_value_t permitted = CAP_CLEAR;
    cap_get_flag(current.get(), kKept, CAP_PERMITTED, &permitted);
    CapPtr wanted(cap_init(), &cap_free);
    if (permitted == CAP_SET) {
        cap_set_flag(wanted.get(), CAP_PERMITTED, 1, &kKept, CAP_SET);
        cap_set_flag(wanted.get(), CAP_EFFECTIVE, 1, &kKept, CAP_SET);
    }
    if (cap_reset_ambient() != 0 && errno != EINVAL) return fail(error, "clearing ambient capabilities");
    if (cap_set_proc(wanted.get()) != 0) return fail(error, "cap_set_proc");
    return true;
}

}  // namespace

bool drop_privileges(const RunAs& run_as, std::string* error) {
    if (run_as.user.empty()) return true;
    uid_t uid = 0;
    gid_t gid = 0;
    if (!resolve(run_as, &uid, &gid, error)) return false;
    if (geteuid() == 0 && uid != 0) {
        if (!empty_bounding_set(error) || !become(uid, gid, error)) return false;
    } else if (geteuid() != uid) {
        *error = "started as uid " + std::to_string(geteuid()) + ": only root can become global.user " + run_as.user;
        return false;
    }
    if (!limit_capabilities(error)) return false;
    // Belt and braces: a way back to root would undo all of the above.
    if (uid != 0 && setuid(0) == 0) {
        *error = "still able to become root after dropping privileges";
        return false;
    }
    return true;
}

}  // namespace lbd::process
