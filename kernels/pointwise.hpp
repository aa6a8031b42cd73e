#pragma once
// Pointwise swish over whole [B][R][C] views (the activation of every MLP in model.md §5), indexed
// flat: consecutive GPU threads touch consecutive elements, and on CPUs each work item runs a
// short fixed-length block that vectorises.
#include <cstdint>

#include "kernels/activations.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

template <class E, class T>
void swish_forward(const E& exec, const V3<E, T>& y, const V3<E, T>& x) {
  constexpr int L = vector_lanes<E>();
  const std::int64_t count = x.size(), blocks = (count + L - 1) / L;
  const T* xs = x.data();
  T* ys = y.data();
  Kokkos::parallel_for(
      "hnet::swish_forward", Kokkos::RangePolicy<E>(exec, 0, blocks), KOKKOS_LAMBDA(const std::int64_t block) {
        const std::int64_t i0 = block * L;
        if (i0 + L <= count) {
          for (int j = 0; j < L; ++j) ys[i0 + j] = swish(xs[i0 + j]);
        } else {
          for (std::int64_t i = i0; i < count; ++i) ys[i] = swish(xs[i]);
        }
      });
}

// dx += dy · swish'(x); skipped when dx is not present.
template <class E, class T>
void swish_backward(const E& exec, const V3<E, T>& dx, const V3<E, T>& dy, const V3<E, T>& x) {
  if (!present(dx)) return;
  constexpr int L = vector_lanes<E>();
  const std::int64_t count = x.size(), blocks = (count + L - 1) / L;
  const T* xs = x.data();
  const T* dys = dy.data();
  T* dxs = dx.data();
  Kokkos::parallel_for(
      "hnet::swish_backward", Kokkos::RangePolicy<E>(exec, 0, blocks), KOKKOS_LAMBDA(const std::int64_t block) {
        const std::int64_t i0 = block * L;
        if (i0 + L <= count) {
          for (int j = 0; j < L; ++j) dxs[i0 + j] += dys[i0 + j] * swish_derivative(xs[i0 + j]);
        } else {
          for (std::int64_t i = i0; i < count; ++i) dxs[i] += dys[i] * swish_derivative(xs[i]);
        }
      });
}

}  // namespace hnet::kernels
