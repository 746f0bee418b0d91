// Descriptor exhaustion made exact for scenario tests: lbd's RLIMIT_NOFILE is lowered with
// prlimit(2) to just above the descriptors it holds, so its next socket() or accept() fails.
#pragma once

#include <dirent.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdlib>
#include <set>
#include <string>

namespace lbd::test {

// The lowest descriptor number `pid` does not use: with RLIMIT_NOFILE at this value its next
// socket() or accept() fails with EMFILE; with it at this + n, n more succeed.
inline int lowest_free_fd(pid_t pid) {
    std::set<int> used;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return -1;
    while (dirent* entry = readdir(d)) {
        if (entry->d_name[0] != '.') used.insert(std::atoi(entry->d_name));
    }
    closedir(d);
    int fd = 0;
    while (used.count(fd) != 0) ++fd;
    return fd;
}

inline bool set_nofile(pid_t pid, rlim_t soft) {
    rlimit old{};
    if (prlimit(pid, RLIMIT_NOFILE, nullptr, &old) != 0) return false;
    rlimit limit{soft, old.rlim_max};
    return prlimit(pid, RLIMIT_NOFILE, &limit, nullptr) == 0;
}

}  // namespace lbd::test
