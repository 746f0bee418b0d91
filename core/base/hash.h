// Fast non-cryptographic hashing for balancing decisions.
//
// Stable across runs and hosts (no per-process seed): two HA nodes must map
// the same client to the same server, and Maglev's table must be the same on
// both nodes for the same server set.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace lbd {

// splitmix64 finalizer: a good 64-bit mixer.
constexpr uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// FNV-1a over the bytes, then mixed; `seed` gives independent hash functions.
constexpr uint64_t hash64(std::string_view bytes, uint64_t seed = 0) {
    uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

// The hash of sharded maps keyed by std::string and searched with a
// std::string_view (C++20 heterogeneous lookup: is_transparent here and
// std::equal_to<> in the map), so a lookup on the data path builds no
// std::string. std::hash, not hash64: the keys of one shard all share
// hash64(key) % shards, so a hash independent of hash64 keeps the bucket
// spread from depending on it.
struct ShardKeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
};

}  // namespace lbd
