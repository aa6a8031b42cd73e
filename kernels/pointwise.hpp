#pragma once
// Pointwise swish over whole [B][R][C] views (the activation of every MLP in model.md §5).
#include <cstdint>

#include "kernels/activations.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

template <class E, class T>
void swish_forward(const E& exec, const V3<E, T>& y, const V3<E, T>& x) {
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  Kokkos::parallel_for(
      "hnet::swish_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        for (std::int64_t c = 0; c < C; ++c) y(b, r, c) = swish(x(b, r, c));
      });
}

// dx += dy · swish'(x); skipped when dx is not present.
template <class E, class T>
void swish_backward(const E& exec, const V3<E, T>& dx, const V3<E, T>& dy, const V3<E, T>& x) {
  if (!present(dx)) return;
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  Kokkos::parallel_for(
      "hnet::swish_backward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        for (std::int64_t c = 0; c < C; ++c) dx(b, r, c) += dy(b, r, c) * swish_derivative(x(b, r, c));
      });
}

}  // namespace hnet::kernels
