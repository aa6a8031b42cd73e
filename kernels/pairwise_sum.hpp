#pragma once
// Sums over the networks of a step in a fixed binary tree (a "binary counter": each new value
// merges with the partial sum of equal size before it). For a batch split into contiguous blocks
// of 2^k networks per rank, each rank's tree is a subtree of the whole batch's tree, so combining
// the ranks' partial sums with the same counter (PairwiseHostSum) gives exactly the bits of one
// rank summing everything: results do not depend on the number of ranks in a group.
//
// After `count` values the partial sums held are exactly the set bits of `count` (level l sums
// 2^l values), so the counter needs no stack pointer: every level is addressed by a compile-time
// index in fully unrolled loops and the partials can live in registers, also on GPUs, where a
// runtime-indexed per-thread array would spill to local memory.
#include <cstdint>

#include "kernels/compat.hpp"

namespace hnet::kernels {

// Values per counter are < 2^Levels.
constexpr int pairwise_levels = 24;

// L independent sums advanced together (L lanes of consecutive elements vectorise on CPUs).
template <class T, int L = 1, int Levels = pairwise_levels>
struct PairwiseLanes {
  T partial[Levels][L];
  std::uint32_t count = 0;

  // Adds v[0..L) to the L sums.
  KOKKOS_INLINE_FUNCTION void add(const T (&v)[L]) { add_level<0>(v); }

  // Adds the next 2^K values at once, value(first + k, out) writing value k: their tree
  // (block_tree) is what adding them one at a time builds at level K, so the bits are the same,
  // and the counter is advanced once instead of 2^K times. Valid while count is a multiple of 2^K.
  template <int K, class F>
  KOKKOS_INLINE_FUNCTION void add_block(std::int64_t first, const F& value) {
    T v[L];
    block_tree<K>(first, value, v);
    add_level<K>(v);
  }

  // Adds value(0), …, value(n − 1) in order to an empty counter, in blocks of 8 while they fill
  // one (host lanes: paper-size dP0, dU 27 → 13-20 ms per step; blocks of 32 were no faster). GPU
  // threads (L = 1) keep to one at a time: fewer registers.
  template <class F>
  KOKKOS_INLINE_FUNCTION void add_all(std::int64_t n, const F& value) {
    std::int64_t b = 0;
    if constexpr (L > 1)
      for (; b + 8 <= n; b += 8) add_block<3>(b, value);
    for (; b < n; ++b) {
      T v[L];
      value(b, v);
      add_level<0>(v);
    }
  }

  // v[0..L), a sum of 2^K values, merged from level K up (levels below K are empty).
  template <int K>
  KOKKOS_INLINE_FUNCTION void add_level(const T (&v)[L]) {
    T carry[L];
    HNET_UNROLL for (int j = 0; j < L; ++j) carry[j] = v[j];
    HNET_UNROLL for (int l = K; l < Levels; ++l) {
      if (!((count >> l) & 1u)) {
        HNET_UNROLL for (int j = 0; j < L; ++j) partial[l][j] = carry[j];
        break;
      }
      HNET_UNROLL for (int j = 0; j < L; ++j) carry[j] = partial[l][j] + carry[j];
    }
    count += 1u << K;
  }

  // The counter's tree of 2^K consecutive values: the older half's sum plus the newer half's.
  template <int K, class F>
  static KOKKOS_INLINE_FUNCTION void block_tree(std::int64_t first, const F& value, T (&out)[L]) {
    if constexpr (K == 0) {
      value(first, out);
    } else {
      T newer[L];
      block_tree<K - 1>(first, value, out);
      block_tree<K - 1>(first + (std::int64_t(1) << (K - 1)), value, newer);
      HNET_UNROLL for (int j = 0; j < L; ++j) out[j] = out[j] + newer[j];
    }
  }
  // The partial sums combined from the newest (smallest) to the oldest; 0 when empty.
  KOKKOS_INLINE_FUNCTION void total(T (&out)[L]) const {
    bool first = true;
    HNET_UNROLL for (int j = 0; j < L; ++j) out[j] = T(0);
    HNET_UNROLL for (int l = 0; l < Levels; ++l) {
      if (!((count >> l) & 1u)) continue;
      if (first) {
        HNET_UNROLL for (int j = 0; j < L; ++j) out[j] = partial[l][j];
        first = false;
      } else {
        HNET_UNROLL for (int j = 0; j < L; ++j) out[j] = partial[l][j] + out[j];
      }
    }
  }
};

// The counter's tree of value(first), …, value(first + 2^k − 1) (any type with +): older half plus
// newer half, unrolled at compile time up to blocks of 2^K.
template <int K, class F>
KOKKOS_FORCEINLINE_FUNCTION auto perfect_tree(std::int64_t first, const F& value) {
  if constexpr (K == 0) {
    return value(first);
  } else {
    const auto older = perfect_tree<K - 1>(first, value);
    return older + perfect_tree<K - 1>(first + (std::int64_t(1) << (K - 1)), value);
  }
}
template <class F>
KOKKOS_FORCEINLINE_FUNCTION auto perfect_tree_of(std::int64_t first, int k, const F& value) -> decltype(value(first));
// Blocks of more than 32 values (a rank holding over 32 networks): halves until they unroll.
template <class F>
KOKKOS_INLINE_FUNCTION auto perfect_tree_halves(std::int64_t first, int k, const F& value) -> decltype(value(first)) {
  const auto older = perfect_tree_of(first, k - 1, value);
  return older + perfect_tree_of(first + (std::int64_t(1) << (k - 1)), k - 1, value);
}
template <class F>
KOKKOS_FORCEINLINE_FUNCTION auto perfect_tree_of(std::int64_t first, int k, const F& value) -> decltype(value(first)) {
  switch (k) {
    case 0: return perfect_tree<0>(first, value);
    case 1: return perfect_tree<1>(first, value);
    case 2: return perfect_tree<2>(first, value);
    case 3: return perfect_tree<3>(first, value);
    case 4: return perfect_tree<4>(first, value);
    case 5: return perfect_tree<5>(first, value);
    default: return perfect_tree_halves(first, k, value);
  }
}

// value(0) + … + value(n − 1), n ≥ 1, with the bits PairwiseLanes gives them: the counter ends
// with one perfect tree per set bit of n, the largest block first, and its total adds them from
// the newest (smallest) to the oldest. Without the counter's bookkeeping: for a vector type on the
// host, the partial sums stay in registers.
template <class F>
KOKKOS_FORCEINLINE_FUNCTION auto pairwise_total(std::int64_t n, const F& value) -> decltype(value(0)) {
  decltype(value(0)) out{};
  std::int64_t end = n;
  bool first = true;
  for (int k = 0; (std::int64_t(1) << k) <= n; ++k) {
    if (!((n >> k) & 1)) continue;
    end -= std::int64_t(1) << k;
    const auto block = perfect_tree_of(end, k, value);
    out = first ? block : block + out;
    first = false;
  }
  return out;
}

// One sum.
template <class T, int Levels = pairwise_levels>
struct PairwiseSum {
  PairwiseLanes<T, 1, Levels> lanes;
  KOKKOS_INLINE_FUNCTION void add(T value) {
    const T v[1] = {value};
    lanes.add(v);
  }
  KOKKOS_INLINE_FUNCTION T total() const {
    T out[1];
    lanes.total(out);
    return out[0];
  }
};

}  // namespace hnet::kernels
