// Descriptor exhaustion made exact for scenario tests: lbd's RLIMIT_NOFILE is lowered with
// prlimit(2) to just above the descriptors it holds, so its next socket() or accept() fails.
#pragma once

#include <dirent.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
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

// Whether `pid` holds a TCP socket whose peer is `port` on loopback (its
// socket inodes against /proc/net/tcp and tcp6).
inline bool holds_connection_to(pid_t pid, uint16_t port) {
    std::set<std::string> inodes;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return false;
    while (dirent* entry = readdir(d)) {
        char target[64] = {};
        std::string link = dir + "/" + entry->d_name;
        ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
        std::string t(target, n > 0 ? static_cast<size_t>(n) : 0);
        if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
    char port_hex[8];
    snprintf(port_hex, sizeof port_hex, "%04X", port);
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            if (remote.size() > 4 && remote.substr(remote.size() - 4) == port_hex && inodes.count(inode) != 0) return true;
        }
    }
    return false;
}

// Waits (up to `timeout_ms`) until `pid` holds no connection to `port`: a
// closed server connection's descriptor may be freed a loop turn after the
// response went out, and a free number below the limit would let the next
// socket() succeed.
inline bool await_no_connection_to(pid_t pid, uint16_t port, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (holds_connection_to(pid, port)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        usleep(2000);  // polling a condition with a deadline, not a sleep as synchronisation
    }
    return true;
}

}  // namespace lbd::test
