// Socket addresses and CIDR blocks, parsed from config text.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lbd {

// An IPv4 or IPv6 address with a port, stored as the kernel wants it.
class SocketAddress {
public:
    SocketAddress() = default;
    SocketAddress(const sockaddr* sa, socklen_t len);

    // "1.2.3.4:80" or "[::1]:80". Returns nullopt on anything else.
    static std::optional<SocketAddress> parse(std::string_view text);
    // The address socket `fd` is bound to (getsockname); nullopt if unreadable.
    static std::optional<SocketAddress> local_of(int fd);

    int family() const { return storage_.ss_family; }
    bool is_v4() const { return family() == AF_INET; }
    bool is_v6() const { return family() == AF_INET6; }
    uint16_t port() const;
    void set_port(uint16_t port);

    const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* sockaddr_ptr() { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t length() const { return length_; }
    void set_length(socklen_t len) { length_ = len; }

    // Raw address bytes (4 or 16), for hashing and CIDR matching.
    std::string_view ip_bytes() const;
    // "1.2.3.4" / "::1" (no port, no brackets).
    std::string ip_string() const;
    // "1.2.3.4:80" / "[::1]:80".
    std::string to_string() const;

    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into plain IPv4.
    SocketAddress unmapped() const;

    friend bool operator==(const SocketAddress& a, const SocketAddress& b);

private:
    sockaddr_storage storage_{};
    socklen_t length_ = 0;
};

// "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128).
class Cidr {
public:
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const SocketAddress& addr) const;
    std::string to_string() const;

private:
    int family_ = AF_UNSPEC;
    unsigned char bytes_[16]{};
    int prefix_len_ = 0;
};

}  // namespace lbd
