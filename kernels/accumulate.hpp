#pragma once
// dst += src elementwise: how a gradient that arrives in its own buffer (the latents' dJ/dĥ^ℓ)
// joins a residual stream's shared gradient buffer.
#include <cstdint>

#include "kernels/views.hpp"

namespace hnet::kernels {

template <class E, class T>
void add_into(const E& exec, const V3<E, T>& dst, const V3<E, T>& src) {
  const std::int64_t count = static_cast<std::int64_t>(dst.span());
  T* d = dst.data();
  const T* s = src.data();
  Kokkos::parallel_for(
      "hnet::add_into", Kokkos::RangePolicy<E>(exec, 0, count), KOKKOS_LAMBDA(const std::int64_t i) { d[i] += s[i]; });
}

}  // namespace hnet::kernels
