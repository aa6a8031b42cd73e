#pragma once
// Adam (model.md §7) on the flat trainable vector, with the global-norm clipping factor applied
// to the gradient first. Elementwise, so trivially deterministic.
#include <cstdint>

#include "kernels/compat.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_scale = 1.0;  // clipping: min(1, clip / ‖g‖)
  std::int64_t t = 1;       // 1-based step count for bias correction
};

template <class E, class T>
void adam_update(const E& exec, const V1<E, T>& theta, const V1<E, T>& m, const V1<E, T>& v, const V1<E, T>& grad,
                 const AdamStep s) {
  const double correction1 = 1.0 - compat::exp(static_cast<double>(s.t) * compat::log(s.beta1));
  const double correction2 = 1.0 - compat::exp(static_cast<double>(s.t) * compat::log(s.beta2));
  Kokkos::parallel_for(
      "hnet::adam_update", Kokkos::RangePolicy<E>(exec, 0, theta.extent(0)), KOKKOS_LAMBDA(const std::int64_t i) {
        const double g = s.grad_scale * static_cast<double>(grad(i));
        const double mi = s.beta1 * static_cast<double>(m(i)) + (1.0 - s.beta1) * g;
        const double vi = s.beta2 * static_cast<double>(v(i)) + (1.0 - s.beta2) * g * g;
        m(i) = static_cast<T>(mi);
        v(i) = static_cast<T>(vi);
        const double update = (mi / correction1) / (compat::sqrt(vi / correction2) + s.eps);
        theta(i) = static_cast<T>(static_cast<double>(theta(i)) - s.lr * update);
      });
}

// Σ x² in double with a fixed chunking: partial[c] = Σ over chunk c in order; the caller adds
// the chunks in order. Independent of the thread count.
template <class E, class T>
void sum_of_squares_partials(const E& exec, const V1<E, double>& partial, const V1<E, T>& x, std::int64_t chunk) {
  const std::int64_t count = x.extent(0);
  Kokkos::parallel_for(
      "hnet::sum_of_squares_partials", Kokkos::RangePolicy<E>(exec, 0, partial.extent(0)),
      KOKKOS_LAMBDA(const std::int64_t c) {
        double s = 0.0;
        const std::int64_t end = (c + 1) * chunk < count ? (c + 1) * chunk : count;
        for (std::int64_t i = c * chunk; i < end; ++i) s += static_cast<double>(x(i)) * static_cast<double>(x(i));
        partial(c) = s;
      });
}

}  // namespace hnet::kernels
