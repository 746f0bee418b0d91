#include "core/net/syn_filter.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace lbd {

namespace {

constexpr uint32_t kTcpFlagsOffset = 13;  // in the TCP header
constexpr uint32_t kSyn = 0x02, kAck = 0x10;
constexpr int32_t kIpVersionOffset = SKF_NET_OFF;
constexpr int32_t kIpv4DestOffset = SKF_NET_OFF + 16;
constexpr int32_t kIpv6DestOffset = SKF_NET_OFF + 24;

uint32_t word(const std::string& bytes, size_t i) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data()) + 4 * i;
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];  // BPF loads big-endian
}

// Jumps are written with symbolic targets and resolved once the program's
// length is known (BPF jumps are relative and forward only).
enum Target : uint8_t { kNext = 0, kAccept = 1, kDrop = 2, kIpv6 = 3, kNextAddress = 4 };
struct Insn {
    sock_filter f;
    Target jt = kNext, jf = kNext;
};

Insn stmt(uint16_t code, uint32_t k) { return Insn{BPF_STMT(code, k)}; }
Insn jeq(uint32_t k, Target jt, Target jf) { return Insn{BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0), jt, jf}; }

}  // namespace

std::vector<sock_filter> syn_drop_program(const std::vector<std::string>& addresses) {
    std::vector<Insn> p;
    // Only a SYN without ACK opens a connection; every other packet passes.
    p.push_back(stmt(BPF_LD | BPF_B | BPF_ABS, kTcpFlagsOffset));
    p.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, kSyn | kAck));
    p.push_back(jeq(kSyn, kNext, kAccept));
    p.push_back(stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(kIpVersionOffset)));
    p.push_back(stmt(BPF_ALU | BPF_RSH | BPF_K, 4));
    p.push_back(jeq(4, kNext, kIpv6));
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(kIpv4DestOffset)));
    for (const std::string& a : addresses)
        if (a.size() == 4) p.push_back(jeq(word(a, 0), kDrop, kNext));
    p.push_back(Insn{BPF_STMT(BPF_JMP | BPF_JA, 0), kAccept});
    const size_t ipv6 = p.size();
    p.push_back(jeq(6, kNext, kAccept));
    // Each IPv6 address: its four words in turn; a mismatch goes to the next address.
    std::vector<size_t> address_starts;
    for (const std::string& a : addresses) {
        if (a.size() != 16) continue;
        address_starts.push_back(p.size());
        for (size_t i = 0; i < 4; ++i) {
            p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(kIpv6DestOffset + int32_t(4 * i))));
            p.push_back(jeq(word(a, i), i == 3 ? kDrop : kNext, kNextAddress));
        }
    }
    const size_t accept = p.size();
    p.push_back(stmt(BPF_RET | BPF_K, 0xffffffffu));
    const size_t drop = p.size();
    p.push_back(stmt(BPF_RET | BPF_K, 0));

    std::vector<sock_filter> out;
    out.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        auto resolve = [&](Target t) -> uint8_t {
            size_t to = i + 1;
            switch (t) {
                case kNext: break;
                case kAccept: to = accept; break;
                case kDrop: to = drop; break;
                case kIpv6: to = ipv6; break;
                case kNextAddress:
                    to = accept;
                    for (size_t start : address_starts)
                        if (start > i) {
                            to = start;
                            break;
                        }
                    break;
            }
            return uint8_t(to - i - 1);  // a few addresses: always < 256
        };
        sock_filter f = p[i].f;
        if (BPF_CLASS(f.code) == BPF_JMP) {
            if (BPF_OP(f.code) == BPF_JA)
                f.k = resolve(p[i].jt);
            else
                f.jt = resolve(p[i].jt), f.jf = resolve(p[i].jf);
        }
        out.push_back(f);
    }
    return out;
}

bool set_syn_drop_filter(int fd, const std::vector<std::string>& addresses, std::string* error) {
    int rc;
    if (addresses.empty()) {
        int unused = 0;
        rc = setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
        if (rc != 0 && errno == ENOENT) return true;  // none attached
    } else {
        std::vector<sock_filter> program = syn_drop_program(addresses);
        sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
        rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
    }
    if (rc != 0) *error = strerror(errno);
    return rc == 0;
}

}  // namespace lbd
