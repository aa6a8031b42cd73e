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
  KOKKOS_INLINE_FUNCTION void add(const T (&v)[L]) {
    T carry[L];
    HNET_UNROLL for (int j = 0; j < L; ++j) carry[j] = v[j];
    HNET_UNROLL for (int l = 0; l < Levels; ++l) {
      if (!((count >> l) & 1u)) {
        HNET_UNROLL for (int j = 0; j < L; ++j) partial[l][j] = carry[j];
        break;
      }
      HNET_UNROLL for (int j = 0; j < L; ++j) carry[j] = partial[l][j] + carry[j];
    }
    ++count;
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
