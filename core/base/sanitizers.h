// Whether this build runs under AddressSanitizer. Code that keeps freed
// blocks for reuse (per-thread spares, buffer caches) keeps none then: a use
// after free must stay a reported error, not the next owner's memory.
#pragma once

namespace lbd {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace lbd
