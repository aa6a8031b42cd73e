#pragma once
// Byte counts for the memory and disk checks. A deck far too large must read as "too large", not
// wrap around to something small, so products and sums stop at SIZE_MAX instead of overflowing.
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace hnet {

// The product of the factors, SIZE_MAX on overflow or when a factor is negative.
inline std::size_t saturating_product(std::initializer_list<std::int64_t> factors) {
  std::size_t total = 1;
  for (const std::int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(total, static_cast<std::size_t>(f), &total)) return SIZE_MAX;
  return total;
}

inline std::size_t saturating_multiply(std::size_t a, std::size_t b) {
  std::size_t total = 0;
  return __builtin_mul_overflow(a, b, &total) ? SIZE_MAX : total;
}

inline std::size_t saturating_add(std::size_t a, std::size_t b) {
  std::size_t total = 0;
  return __builtin_add_overflow(a, b, &total) ? SIZE_MAX : total;
}

inline std::size_t saturating_sum(std::initializer_list<std::size_t> terms) {
  std::size_t total = 0;
  for (const std::size_t t : terms) total = saturating_add(total, t);
  return total;
}

}  // namespace hnet
