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

namespace adam_detail {
// Elements per host work item: the loop over them vectorises (raw restrict pointers), where a
// work item per element, reloading the views after every store, stayed scalar.
constexpr std::int64_t host_block = 2048;

// One element's update; the same expressions on every backend and schedule.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void adam_element(T& theta, T& m, T& v, const T grad, const AdamStep& s,
                                              const double correction1, const double correction2) {
  const double g = s.grad_scale * static_cast<double>(grad);
  const double mi = s.beta1 * static_cast<double>(m) + (1.0 - s.beta1) * g;
  const double vi = s.beta2 * static_cast<double>(v) + (1.0 - s.beta2) * g * g;
  m = static_cast<T>(mi);
  v = static_cast<T>(vi);
  const double update = (mi / correction1) / (compat::sqrt(vi / correction2) + s.eps);
  theta = static_cast<T>(static_cast<double>(theta) - s.lr * update);
}

// Elements begin … end − 1 on the host, through restrict pointers and local copies of the
// constants, so that the loop vectorises.
template <class T>
KOKKOS_INLINE_FUNCTION void adam_block(T* __restrict__ theta, T* __restrict__ m, T* __restrict__ v,
                                       const T* __restrict__ grad, std::int64_t begin, std::int64_t end,
                                       const AdamStep s, const double correction1, const double correction2) {
  for (std::int64_t i = begin; i < end; ++i) adam_element(theta[i], m[i], v[i], grad[i], s, correction1, correction2);
}
}  // namespace adam_detail

template <class E, class T>
void adam_update(const E& exec, const V1<E, T>& theta, const V1<E, T>& m, const V1<E, T>& v, const V1<E, T>& grad,
                 const AdamStep s) {
  const double correction1 = 1.0 - compat::exp(static_cast<double>(s.t) * compat::log(s.beta1));
  const double correction2 = 1.0 - compat::exp(static_cast<double>(s.t) * compat::log(s.beta2));
  const std::int64_t count = theta.extent(0);
  if constexpr (on_host<E>) {
    constexpr std::int64_t block = adam_detail::host_block;
    Kokkos::parallel_for(
        "hnet::adam_update", Kokkos::RangePolicy<E>(exec, 0, (count + block - 1) / block),
        KOKKOS_LAMBDA(const std::int64_t k) {
          const std::int64_t end = (k + 1) * block < count ? (k + 1) * block : count;
          adam_detail::adam_block(theta.data(), m.data(), v.data(), grad.data(), k * block, end, s, correction1,
                                  correction2);
        });
  } else {
    Kokkos::parallel_for(
        "hnet::adam_update", Kokkos::RangePolicy<E>(exec, 0, count), KOKKOS_LAMBDA(const std::int64_t i) {
          adam_detail::adam_element(theta(i), m(i), v(i), grad(i), s, correction1, correction2);
        });
  }
}

// Σ x² in double with a fixed chunking: partial[c] = Σ over chunk c in order; the caller adds
// the chunks in order. Independent of the thread count.
// On the host a work item sums 4 chunks side by side (each still in its own order), so that four
// chains of dependent additions overlap instead of one.
template <class E, class T>
void sum_of_squares_partials(const E& exec, const V1<E, double>& partial, const V1<E, T>& x, std::int64_t chunk) {
  const std::int64_t count = x.extent(0), chunks = partial.extent(0);
  constexpr std::int64_t together = on_host<E> ? 4 : 1;
  Kokkos::parallel_for(
      "hnet::sum_of_squares_partials", Kokkos::RangePolicy<E>(exec, 0, (chunks + together - 1) / together),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const std::int64_t c0 = item * together;
        if (c0 + together > chunks || (c0 + together) * chunk > count) {  // the ragged end: a chunk at a time
          for (std::int64_t c = c0; c < chunks; ++c) {
            double s = 0.0;
            const std::int64_t end = (c + 1) * chunk < count ? (c + 1) * chunk : count;
            for (std::int64_t i = c * chunk; i < end; ++i) s += static_cast<double>(x(i)) * static_cast<double>(x(i));
            partial(c) = s;
          }
          return;
        }
        double s[together] = {};
        const T* const base = &x(c0 * chunk);
        for (std::int64_t i = 0; i < chunk; ++i)
          HNET_UNROLL for (int q = 0; q < together; ++q) {
            const double value = static_cast<double>(base[q * chunk + i]);
            s[q] += value * value;
          }
        HNET_UNROLL for (int q = 0; q < together; ++q) partial(c0 + q) = s[q];
      });
}

}  // namespace hnet::kernels
