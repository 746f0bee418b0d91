#include "core/net/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace lbd {

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) {
    if (len > sizeof storage_) len = sizeof storage_;
    std::memcpy(&storage_, sa, len);
    length_ = len;
}

static std::optional<uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    if (text.empty() || text.size() > 5) return std::nullopt;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<uint16_t>(value);
}

std::optional<SocketAddress> SocketAddress::local_of(int fd) {
    SocketAddress address;
    address.length_ = sizeof address.storage_;
    if (getsockname(fd, address.sockaddr_ptr(), &address.length_) != 0) return std::nullopt;
    return address;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
    std::string host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = std::string(text.substr(0, colon));
        if (host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
        port_text = text.substr(colon + 1);
    }
    auto port = parse_port(port_text);
    if (!port) return std::nullopt;
    SocketAddress out;
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(*port);
        out = SocketAddress(reinterpret_cast<sockaddr*>(&v4), sizeof v4);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(*port);
        out = SocketAddress(reinterpret_cast<sockaddr*>(&v6), sizeof v6);
    } else {
        return std::nullopt;
    }
    return out;
}

uint16_t SocketAddress::port() const {
    if (is_v4()) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (is_v6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

void SocketAddress::set_port(uint16_t port) {
    if (is_v4()) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
    if (is_v6()) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string_view SocketAddress::ip_bytes() const {
    if (is_v4()) {
        auto* p = &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
        return {reinterpret_cast<const char*>(p), 4};
    }
    if (is_v6()) {
        auto* p = &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
        return {reinterpret_cast<const char*>(p), 16};
    }
    return {};
}

std::string SocketAddress::ip_string() const {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (is_v4()) {
        // Dotted quad by hand: the proxy writes the client's address into every request
        // (X-Forwarded-For, X-Real-IP), and glibc's inet_ntop formats IPv4 through sprintf,
        // about ten times the instructions.
        const auto* octets = reinterpret_cast<const unsigned char*>(
            &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr);
        char* out = buf;
        for (int i = 0; i < 4; ++i) {
            if (i > 0) *out++ = '.';
            out = std::to_chars(out, buf + sizeof buf, octets[i]).ptr;
        }
        return std::string(buf, out);
    }
    if (is_v6()) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
    return buf;
}

std::string SocketAddress::to_string() const {
    if (is_v6()) return "[" + ip_string() + "]:" + std::to_string(port());
    return ip_string() + ":" + std::to_string(port());
}

SocketAddress SocketAddress::unmapped() const {
    if (!is_v6()) return *this;
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    if (!IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return *this;
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = v6->sin6_port;
    std::memcpy(&v4.sin_addr, v6->sin6_addr.s6_addr + 12, 4);
    return SocketAddress(reinterpret_cast<sockaddr*>(&v4), sizeof v4);
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
    return a.family() == b.family() && a.port() == b.port() && a.ip_bytes() == b.ip_bytes();
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    std::string_view addr_text = text;
    int prefix = -1;
    if (size_t slash = text.find('/'); slash != std::string_view::npos) {
        addr_text = text.substr(0, slash);
        std::string_view len_text = text.substr(slash + 1);
        unsigned value = 0;
        auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), value);
        if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size()) return std::nullopt;
        prefix = static_cast<int>(value);
    }
    Cidr out;
    std::string host(addr_text);
    if (inet_pton(AF_INET, host.c_str(), out.bytes_) == 1) {
        out.family_ = AF_INET;
        if (prefix < 0) prefix = 32;
        if (prefix > 32) return std::nullopt;
    } else if (inet_pton(AF_INET6, host.c_str(), out.bytes_) == 1) {
        out.family_ = AF_INET6;
        if (prefix < 0) prefix = 128;
        if (prefix > 128) return std::nullopt;
    } else {
        return std::nullopt;
    }
    out.prefix_len_ = prefix;
    return out;
}

bool Cidr::contains(const SocketAddress& raw) const {
    SocketAddress addr = raw.unmapped();
    if ((family_ == AF_INET && !addr.is_v4()) || (family_ == AF_INET6 && !addr.is_v6())) return false;
    std::string_view bytes = addr.ip_bytes();
    int full = prefix_len_ / 8;
    if (std::memcmp(bytes.data(), bytes_, static_cast<size_t>(full)) != 0) return false;
    int rest = prefix_len_ % 8;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (static_cast<unsigned char>(bytes[full]) & mask) == (bytes_[full] & mask);
}

std::string Cidr::to_string() const {
    char buf[INET6_ADDRSTRLEN] = "?";
    inet_ntop(family_, bytes_, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix_len_);
}

}  // namespace lbd
