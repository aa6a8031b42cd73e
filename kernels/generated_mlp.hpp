#pragma once
// The generated (target) network of model.md §2, for a batch of B_β networks that each have their
// own parameters and their own B_x inputs:
//   z[b,s,j] = Σ_i x[b,s,i] W0[b,i,j] + b0[b,j],   f[b,s] = Σ_j W1[b,j] swish(z[b,s,j]) + b1[b],
//   L[b] = (1/B_x) Σ_s (f[b,s] − y[b,s])².
// One launch covers every network. Every sum runs in a fixed order (serial over its index inside
// one work item), so results do not depend on thread count or backend, and the backward needs no
// atomics: each gradient element is owned by exactly one work item.
#include <cstdint>

#include "kernels/activations.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

// Forward. Outputs: pre-activations z [B][S][m] (saved for backward), predictions f [B][S], and
// per-network loss [B] in double.
template <class ExecSpaceT, class T>
void generated_mlp_forward(const ExecSpaceT& exec,
                           const View1<double, typename ExecSpaceT::memory_space>& loss,
                           const View3<T, typename ExecSpaceT::memory_space>& z,
                           const View2<T, typename ExecSpaceT::memory_space>& pred,
                           const View3<T, typename ExecSpaceT::memory_space>& x,
                           const View2<T, typename ExecSpaceT::memory_space>& y,
                           const View3<T, typename ExecSpaceT::memory_space>& w0,
                           const View2<T, typename ExecSpaceT::memory_space>& b0,
                           const View2<T, typename ExecSpaceT::memory_space>& w1,
                           const View1<T, typename ExecSpaceT::memory_space>& b1) {
  const std::int64_t batch = x.extent(0), samples = x.extent(1), n = x.extent(2), m = w0.extent(2);
  Kokkos::parallel_for(
      "hnet::generated_mlp_forward::hidden",
      Kokkos::RangePolicy<ExecSpaceT>(exec, 0, batch * samples),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / samples, s = flat % samples;
        for (std::int64_t j = 0; j < m; ++j) z(b, s, j) = b0(b, j);
        for (std::int64_t i = 0; i < n; ++i) {
          const T xi = x(b, s, i);
          for (std::int64_t j = 0; j < m; ++j) z(b, s, j) += xi * w0(b, i, j);
        }
        T f = b1(b);
        for (std::int64_t j = 0; j < m; ++j) f += w1(b, j) * swish(z(b, s, j));
        pred(b, s) = f;
      });
  Kokkos::parallel_for(
      "hnet::generated_mlp_forward::loss", Kokkos::RangePolicy<ExecSpaceT>(exec, 0, batch),
      KOKKOS_LAMBDA(const std::int64_t b) {
        double sum = 0.0;
        for (std::int64_t s = 0; s < samples; ++s) {
          const double r = static_cast<double>(pred(b, s)) - static_cast<double>(y(b, s));
          sum += r * r;
        }
        loss(b) = sum / static_cast<double>(samples);
      });
}

// Backward: given dJ/dL[b] (upstream), accumulate (+=) dJ/dW0, dJ/db0, dJ/dW1, dJ/db1.
// dz [B][S][m] is scratch that receives dJ/dz.
template <class ExecSpaceT, class T>
void generated_mlp_backward(const ExecSpaceT& exec,
                            const View3<T, typename ExecSpaceT::memory_space>& dw0,
                            const View2<T, typename ExecSpaceT::memory_space>& db0,
                            const View2<T, typename ExecSpaceT::memory_space>& dw1,
                            const View1<T, typename ExecSpaceT::memory_space>& db1,
                            const View1<double, typename ExecSpaceT::memory_space>& dloss,
                            const View3<T, typename ExecSpaceT::memory_space>& x,
                            const View2<T, typename ExecSpaceT::memory_space>& y,
                            const View2<T, typename ExecSpaceT::memory_space>& w1,
                            const View3<T, typename ExecSpaceT::memory_space>& z,
                            const View2<T, typename ExecSpaceT::memory_space>& pred,
                            const View3<T, typename ExecSpaceT::memory_space>& dz) {
  const std::int64_t batch = x.extent(0), samples = x.extent(1), n = x.extent(2), m = z.extent(2);
  const double inv_samples = 1.0 / static_cast<double>(samples);

  Kokkos::parallel_for(
      "hnet::generated_mlp_backward::dz", Kokkos::RangePolicy<ExecSpaceT>(exec, 0, batch * samples),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / samples, s = flat % samples;
        const T r = static_cast<T>(2.0 * inv_samples * dloss(b) *
                                   (static_cast<double>(pred(b, s)) - static_cast<double>(y(b, s))));
        for (std::int64_t j = 0; j < m; ++j) dz(b, s, j) = r * w1(b, j) * swish_derivative(z(b, s, j));
      });

  // Work item (b, j < m) owns dW1[b,j] and db0[b,j]; item (b, m) owns db1[b].
  Kokkos::parallel_for(
      "hnet::generated_mlp_backward::w1_b0_b1",
      Kokkos::RangePolicy<ExecSpaceT>(exec, 0, batch * (m + 1)), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (m + 1), j = flat % (m + 1);
        const double scale = 2.0 * inv_samples * dloss(b);
        if (j == m) {
          double acc = 0.0;
          for (std::int64_t s = 0; s < samples; ++s)
            acc += static_cast<double>(pred(b, s)) - static_cast<double>(y(b, s));
          db1(b) += static_cast<T>(scale * acc);
          return;
        }
        T acc_w1 = 0, acc_b0 = 0;
        for (std::int64_t s = 0; s < samples; ++s) {
          const T r = static_cast<T>(scale * (static_cast<double>(pred(b, s)) - static_cast<double>(y(b, s))));
          acc_w1 += r * swish(z(b, s, j));
          acc_b0 += dz(b, s, j);
        }
        dw1(b, j) += acc_w1;
        db0(b, j) += acc_b0;
      });

  // Work item (b, block of input rows) owns dW0[b, rows, :]; it streams dz[b] once per block.
  constexpr std::int64_t rows_per_item = 8;
  const std::int64_t blocks = (n + rows_per_item - 1) / rows_per_item;
  Kokkos::parallel_for(
      "hnet::generated_mlp_backward::w0", Kokkos::RangePolicy<ExecSpaceT>(exec, 0, batch * blocks),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / blocks, i0 = (flat % blocks) * rows_per_item;
        const std::int64_t i1 = i0 + rows_per_item < n ? i0 + rows_per_item : n;
        for (std::int64_t s = 0; s < samples; ++s)
          for (std::int64_t i = i0; i < i1; ++i) {
            const T xi = x(b, s, i);
            for (std::int64_t j = 0; j < m; ++j) dw0(b, i, j) += xi * dz(b, s, j);
          }
      });
}

}  // namespace hnet::kernels
