// Which malloc lbd runs on, and its tuning.
//
// lbd is linked with mimalloc (Debian's libmimalloc2.0) unless built with
// -DLBD_MIMALLOC=OFF or a sanitizer. Every allocation of lbd and of the
// libraries it drives (libevent's buffers, nghttp2's streams, OpenSSL's
// records, the exchange's strings) then comes from mimalloc's per-thread
// free lists: an HTTP/2 request costs 13% fewer instructions than on glibc's
// malloc, an HTTP/1 one 4-7% (bench/README.md, "lbd on mimalloc"). Envoy links
// tcmalloc and Pingora jemalloc for the same reason; here gperftools'
// tcmalloc counted as few instructions as mimalloc and jemalloc 7% more.
// tune_allocator() keeps freed pages (see there: mimalloc's default gives
// them back so eagerly that 64 KiB responses fault them in again).
#pragma once

#include <string>

namespace lbd {

// What serves malloc() in this process, for `lbd --version` and the start-up
// log: "mimalloc 2.0.9" only when a block from malloc() is mimalloc's (the
// library was linked and really took malloc over), else "glibc malloc".
std::string allocator_name();

// Once, before the workers start: what the allocator in use needs.
void tune_allocator();

}  // namespace lbd
