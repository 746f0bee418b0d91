#include "core/net/prefix_set.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lbd {
namespace {

constexpr uint64_t kV4MappedHi = 0;
constexpr uint64_t kV4MappedLo = 0x0000ffff00000000ULL;

uint64_t load_be64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

void store_be64(uint64_t v, unsigned char* p) {
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v & 0xff);
}

Ip128 from_v6_bytes(const unsigned char* bytes) { return {load_be64(bytes), load_be64(bytes + 8)}; }

Ip128 from_v4_bytes(const unsigned char* bytes) {
    const uint64_t v4 = (uint64_t{bytes[0]} << 24) | (uint64_t{bytes[1]} << 16) | (uint64_t{bytes[2]} << 8) | bytes[3];
    return {kV4MappedHi, kV4MappedLo | v4};
}

// The host-bit mask of a /length prefix: ones where the address is free.
Ip128 host_mask(unsigned length) {
    if (length == 0) return {~0ULL, ~0ULL};
    if (length <= 64) return {length == 64 ? 0 : ~0ULL >> length, ~0ULL};
    return {0, length == 128 ? 0 : ~0ULL >> (length - 64)};
}

bool is_v4_mapped(const IpPrefix& p) { return p.length >= 96 && p.base.hi == 0 && (p.base.lo >> 32) == 0xffff; }

bool fail(std::string* error, std::string message) {
    if (error != nullptr) *error = std::move(message);
    return false;
}

}  // namespace

Ip128 Ip128::from(const SocketAddress& address) {
    const std::string_view bytes = address.ip_bytes();
    const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
    return bytes.size() == 4 ? from_v4_bytes(raw) : from_v6_bytes(raw);
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text, std::string* error) {
    const size_t slash = text.find('/');
    const std::string_view host = text.substr(0, slash);
    char buf[INET6_ADDRSTRLEN + 1];
    if (host.empty() || host.size() >= sizeof buf) return fail(error, "not an IP address"), std::nullopt;
    std::memcpy(buf, host.data(), host.size());
    buf[host.size()] = '\0';
    unsigned char bytes[16];
    IpPrefix out;
    unsigned max = 0;
    if (inet_pton(AF_INET, buf, bytes) == 1) {
        out.base = from_v4_bytes(bytes);
        max = 32;
    } else if (inet_pton(AF_INET6, buf, bytes) == 1) {
        out.base = from_v6_bytes(bytes);
        max = 128;
    } else {
        return fail(error, "not an IP address"), std::nullopt;
    }
    unsigned length = max;
    if (slash != std::string_view::npos) {
        const std::string_view len_text = text.substr(slash + 1);
        auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
        if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size() || length > max)
            return fail(error, "prefix length must be 0.." + std::to_string(max)), std::nullopt;
    }
    out.length = static_cast<uint8_t>(length + (128 - max));
    const Ip128 mask = host_mask(out.length);
    if ((out.base.hi & mask.hi) != 0 || (out.base.lo & mask.lo) != 0) {
        out.base = {out.base.hi & ~mask.hi, out.base.lo & ~mask.lo};
        return fail(error, "host bits set (the network is " + out.to_string() + ")"), std::nullopt;
    }
    return out;
}

std::string IpPrefix::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    unsigned char bytes[16];
    store_be64(base.hi, bytes);
    store_be64(base.lo, bytes + 8);
    if (is_v4_mapped(*this)) {
        inet_ntop(AF_INET, bytes + 12, buf, sizeof buf);
        return std::string(buf) + "/" + std::to_string(length - 96);
    }
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(length);
}

Ip128 IpPrefix::last() const {
    const Ip128 mask = host_mask(length);
    return {base.hi | mask.hi, base.lo | mask.lo};
}

// The sweep: prefixes sorted by start, an enclosing one before those inside
// it (two prefixes are nested or disjoint, never overlapping otherwise).
// `open` holds the prefixes around the current point, innermost last; a
// range starts at each prefix's base and again after each prefix's end,
// where the enclosing one (or none) takes over.
PrefixSet::PrefixSet(std::vector<IpPrefix> prefixes) : prefixes_(std::move(prefixes)) {
    std::sort(prefixes_.begin(), prefixes_.end());
    prefixes_.erase(std::unique(prefixes_.begin(), prefixes_.end()), prefixes_.end());
    starts_.reserve(prefixes_.size() * 2 + 1);
    values_.reserve(prefixes_.size() * 2 + 1);
    auto emit = [this](Ip128 start, uint32_t value) {
        if (!starts_.empty() && starts_.back() == start) {
            values_.back() = value;  // an empty range: the later label wins
        } else if (values_.empty() || values_.back() != value) {
            starts_.push_back(start);
            values_.push_back(value);
        }
    };
    struct Open {
        Ip128 last;
        uint32_t index;
    };
    std::vector<Open> open;
    auto close_before = [&](const Ip128* next) {
        while (!open.empty() && (next == nullptr || open.back().last < *next)) {
            const Ip128 end = open.back().last;
            open.pop_back();
            if (end == Ip128{~0ULL, ~0ULL}) continue;  // nothing lies after the last address
            const Ip128 after = end.lo == ~0ULL ? Ip128{end.hi + 1, 0} : Ip128{end.hi, end.lo + 1};
            emit(after, open.empty() ? kNoMatch : open.back().index);
        }
    };
    for (uint32_t i = 0; i < prefixes_.size(); ++i) {
        close_before(&prefixes_[i].base);
        emit(prefixes_[i].base, i);
        open.push_back({prefixes_[i].last(), i});
    }
    close_before(nullptr);
    starts_.shrink_to_fit();
    values_.shrink_to_fit();
}

uint32_t PrefixSet::match(Ip128 address) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), address);
    if (it == starts_.begin()) return kNoMatch;
    return values_[static_cast<size_t>(it - starts_.begin()) - 1];
}

bool read_prefix_file(const std::string& path, std::vector<IpPrefix>& out, std::string* error) {
    // A directory opens and reads as empty: an access list "loaded" from one
    // would be empty, and a deny list that denies nobody. Refused instead.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return fail(error, path + ": is a directory, not a list of prefixes");
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(error, path + ": cannot open: " + std::strerror(errno));
    std::ostringstream whole;
    whole << in.rdbuf();
    const std::string text = whole.str();
    std::string_view rest = text;
    for (int line = 1; !rest.empty(); ++line) {
        const size_t nl = rest.find('\n');
        std::string_view row = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        const size_t hash = row.find('#');
        if (hash != std::string_view::npos) row = row.substr(0, hash);
        size_t col = 0;
        while (col < row.size() && (row[col] == ' ' || row[col] == '\t')) ++col;
        row.remove_prefix(col);
        while (!row.empty() && (row.back() == ' ' || row.back() == '\t' || row.back() == '\r')) row.remove_suffix(1);
        if (row.empty()) continue;
        std::string why;
        auto prefix = IpPrefix::parse(row, &why);
        if (!prefix)
            return fail(error, path + ":" + std::to_string(line) + ":" + std::to_string(col + 1) + ": '" +
                                   std::string(row) + "': " + why);
        out.push_back(*prefix);
    }
    return true;
}

}  // namespace lbd
