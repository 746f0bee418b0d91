// A set of IPv4 and IPv6 prefixes with longest-prefix match: the structure
// behind the L7 access lists (l7/access_control.h), built for lists of a
// million prefixes (a country's or a cloud's ranges, a blocklist feed).
//
// Layout: a sorted-range table. Both families share one 128-bit space (IPv4
// a.b.c.d/n is ::ffff:a.b.c.d/(96+n), as the kernel maps it), and the
// prefixes are cut at build time into disjoint ranges, each labelled with
// the most specific prefix covering it (or none). A lookup is one binary
// search over the range starts: ~20 comparisons for 1M prefixes, no
// pointer chasing, and the table is two flat arrays (16 + 4 bytes a range),
// about half the memory of a binary trie's nodes for the same list.
// Building is a sort and one sweep, O(n log n): about 0.5 s for 1M prefixes
// read from a file (README "Access control" has the measured figure).
//
// Why not a library: Debian packages no C/C++ longest-prefix-match table
// for user space. DPDK's rte_lpm needs DPDK's memory model (hugepages, EAL),
// ipset and nftables sets live in the kernel and match packets, not
// addresses handed in by a proxy, and libpatricia / liblpm are not packaged.
//
// A set is immutable once built: a change (lbctl acl add) builds a new one
// and swaps the pointer (l7/access_control.h), so readers on the workers
// never lock. Any thread may read a built set.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/address.h"

namespace lbd {

// A 128-bit address, most significant half first.
struct Ip128 {
    uint64_t hi = 0;
    uint64_t lo = 0;
    auto operator<=>(const Ip128&) const = default;

    // An IPv4 address maps to ::ffff:a.b.c.d.
    static Ip128 from(const SocketAddress& address);
};

// One prefix in the shared 128-bit space; `length` 0..128.
struct IpPrefix {
    Ip128 base;  // host bits zero
    uint8_t length = 0;
    auto operator<=>(const IpPrefix&) const = default;

    // "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). Host bits
    // set ("10.0.0.1/8") are refused, as a typo more often than not; `error`
    // says why.
    static std::optional<IpPrefix> parse(std::string_view text, std::string* error = nullptr);
    // As written in IPv4 form when it lies in ::ffff:0:0/96.
    std::string to_string() const;
    Ip128 last() const;  // the highest address it covers
};

class PrefixSet {
public:
    static constexpr uint32_t kNoMatch = UINT32_MAX;

    PrefixSet() = default;
    // Duplicates are kept once; order does not matter.
    explicit PrefixSet(std::vector<IpPrefix> prefixes);

    // The index in prefixes() of the longest prefix containing `address`,
    // or kNoMatch.
    uint32_t match(Ip128 address) const;
    uint32_t match(const SocketAddress& address) const { return match(Ip128::from(address)); }
    bool contains(const SocketAddress& address) const { return match(address) != kNoMatch; }

    // Sorted, unique.
    const std::vector<IpPrefix>& prefixes() const { return prefixes_; }
    size_t size() const { return prefixes_.size(); }

private:
    std::vector<IpPrefix> prefixes_;
    std::vector<Ip128> starts_;     // range i covers [starts_[i], starts_[i+1])
    std::vector<uint32_t> values_;  // its longest prefix, or kNoMatch
};

// Reads a prefix file: one prefix per line, `#` starts a comment, blank
// lines and surrounding blanks ignored. On a bad line returns false with
// `error` = "PATH:LINE:COL: why" (the file's own position).
bool read_prefix_file(const std::string& path, std::vector<IpPrefix>& out, std::string* error);

}  // namespace lbd
