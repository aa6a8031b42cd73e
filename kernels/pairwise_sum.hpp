#pragma once
// Sums over the networks of a step in a fixed binary tree (a "binary counter": each new value
// merges with the partial sum of equal size before it). For a batch split into contiguous blocks
// of 2^k networks per rank, each rank's tree is a subtree of the whole batch's tree, so combining
// the ranks' partial sums with the same counter (PairwiseHostSum) gives exactly the bits of one
// rank summing everything: results do not depend on the number of ranks in a group.
#include <cstdint>

#include "kernels/compat.hpp"

namespace hnet::kernels {

template <class T, int Levels = 24>
struct PairwiseSum {
  T partial[Levels];
  int level[Levels];  // partial[i] sums 2^level[i] values
  int top = 0;

  KOKKOS_INLINE_FUNCTION void add(T value) {
    T v = value;
    int l = 0;
    while (top > 0 && level[top - 1] == l) {
      v = partial[top - 1] + v;
      ++l;
      --top;
    }
    partial[top] = v;
    level[top] = l;
    ++top;
  }
  // Remaining partial sums, combined from the newest (smallest) to the oldest.
  KOKKOS_INLINE_FUNCTION T total() const {
    if (top == 0) return T(0);
    T v = partial[top - 1];
    for (int i = top - 2; i >= 0; --i) v = partial[i] + v;
    return v;
  }
};

}  // namespace hnet::kernels
