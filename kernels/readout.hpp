#pragma once
// The read-out of model.md §5.4: the generated network's weights from per-edge and per-node raw
// scalars (linear layers with one output, computed outside), each scaled by exp(γ):
//   W0[i,j] = exp(γ_w0)·(raw_w0[i·m + j] + ⟨bil_a[i], bil_b[n + j]⟩/√d),  W1[j] = exp(γ_w1)·raw_w1[j],
//   b0[j] = exp(γ_b0)·raw_b0[j],  b1 = exp(γ_b1)·raw_b1.
// The bilinear term (edge_bilinear read-out) is skipped when bil_a is absent. bil_a and bil_b hold
// every node row; input i is row i and hidden j is row n + j.
#include <cstdint>

#include "kernels/compat.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

// The generated networks' parameters (w0: [B][n][m], b0, w1: [B][m], b1: [B]), or their gradients.
template <class E, class T>
struct NetworkParameters {
  V3<E, T> w0;
  V2<E, T> b0, w1;
  V1<E, T> b1;
};
// The read-out's inputs (raw_w0: [B][n·m][1], raw_w1, raw_b0: [B][m][1], raw_b1: [B][1][1];
// bil_a, bil_b: [B][N][d] or absent), or their gradients.
template <class E, class T>
struct ReadoutInputs {
  V3<E, T> raw_w0, raw_w1, raw_b0, raw_b1, bil_a, bil_b;
};

// γ_w0, γ_w1, γ_b0, γ_b1 at P(b, off_gamma + 0..3).
template <class E, class T>
void readout_forward(const E& exec, const NetworkParameters<E, T>& out, const ReadoutInputs<E, T>& in,
                     const V2<E, T>& P, const std::int64_t off_gamma) {
  const auto w0 = out.w0;
  const auto b0 = out.b0, w1 = out.w1;
  const auto b1 = out.b1;
  const auto raw_w0 = in.raw_w0, raw_w1 = in.raw_w1, raw_b0 = in.raw_b0, raw_b1 = in.raw_b1, bil_a = in.bil_a,
             bil_b = in.bil_b;
  const std::int64_t batch = w0.extent(0), n = w0.extent(1), m = w0.extent(2);
  const bool bilinear = present(bil_a);
  const std::int64_t d = bilinear ? bil_a.extent(2) : 1;
  const T inv_sqrt_d = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(d)));
  Kokkos::parallel_for(
      "hnet::readout_forward::w0", Kokkos::RangePolicy<E>(exec, 0, batch * n * m),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (n * m), i = (flat / m) % n, j = flat % m;
        T bil = 0;
        if (bilinear)
          for (std::int64_t c = 0; c < d; ++c) bil += bil_a(b, i, c) * bil_b(b, n + j, c);
        w0(b, i, j) = compat::exp(P(b, off_gamma)) * (raw_w0(b, i * m + j, 0) + bil * inv_sqrt_d);
      });
  // Item (b, j < m) owns W1[b,j] and b0[b,j]; item (b, m) owns b1[b].
  Kokkos::parallel_for(
      "hnet::readout_forward::w1_b0_b1", Kokkos::RangePolicy<E>(exec, 0, batch * (m + 1)),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (m + 1), j = flat % (m + 1);
        if (j == m) {
          b1(b) = compat::exp(P(b, off_gamma + 3)) * raw_b1(b, 0, 0);
          return;
        }
        w1(b, j) = compat::exp(P(b, off_gamma + 1)) * raw_w1(b, j, 0);
        b0(b, j) = compat::exp(P(b, off_gamma + 2)) * raw_b0(b, j, 0);
      });
}

// grad += the read-out inputs' gradients (dbil_a receives the input-node rows, dbil_b the
// hidden-node rows; each may be absent), dP += the γ gradients, from dout, the parameters' gradients.
template <class E, class T>
void readout_backward(const E& exec, const ReadoutInputs<E, T>& grad, const V2<E, T>& dP,
                      const NetworkParameters<E, T>& dout, const ReadoutInputs<E, T>& in, const V2<E, T>& P,
                      const std::int64_t off_gamma) {
  const auto draw_w0 = grad.raw_w0, draw_w1 = grad.raw_w1, draw_b0 = grad.raw_b0, draw_b1 = grad.raw_b1,
             dbil_a = grad.bil_a, dbil_b = grad.bil_b;
  const auto dw0 = dout.w0;
  const auto db0 = dout.b0, dw1 = dout.w1;
  const auto db1 = dout.b1;
  const auto raw_w0 = in.raw_w0, raw_w1 = in.raw_w1, raw_b0 = in.raw_b0, raw_b1 = in.raw_b1, bil_a = in.bil_a,
             bil_b = in.bil_b;
  const std::int64_t batch = dw0.extent(0), n = dw0.extent(1), m = dw0.extent(2);
  const bool bilinear = present(bil_a);
  const std::int64_t d = bilinear ? bil_a.extent(2) : 1;
  const T inv_sqrt_d = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(d)));

  if (present(draw_w0))
    Kokkos::parallel_for(
        "hnet::readout_backward::raw_w0", Kokkos::RangePolicy<E>(exec, 0, batch * n * m),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (n * m), i = (flat / m) % n, j = flat % m;
          draw_w0(b, i * m + j, 0) += compat::exp(P(b, off_gamma)) * dw0(b, i, j);
        });

  // Item (b, j < m) owns the raw W1 and b0 gradients of hidden unit j; item (b, m) the raw b1 one.
  const bool want_w1 = present(draw_w1), want_b0 = present(draw_b0), want_b1 = present(draw_b1);
  Kokkos::parallel_for(
      "hnet::readout_backward::raw_w1_b0_b1", Kokkos::RangePolicy<E>(exec, 0, batch * (m + 1)),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (m + 1), j = flat % (m + 1);
        if (j == m) {
          if (want_b1) draw_b1(b, 0, 0) += compat::exp(P(b, off_gamma + 3)) * db1(b);
          return;
        }
        if (want_w1) draw_w1(b, j, 0) += compat::exp(P(b, off_gamma + 1)) * dw1(b, j);
        if (want_b0) draw_b0(b, j, 0) += compat::exp(P(b, off_gamma + 2)) * db0(b, j);
      });

  // dγ = Σ dOut·Out; the W0 one re-forms the bilinear term, which is cheaper than saving W0.
  Kokkos::parallel_for(
      "hnet::readout_backward::gamma", Kokkos::RangePolicy<E>(exec, 0, batch * 4),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / 4, which = flat % 4;
        double acc = 0;
        if (which == 0) {
          for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < m; ++j) {
              T bil = 0;
              if (bilinear)
                for (std::int64_t c = 0; c < d; ++c) bil += bil_a(b, i, c) * bil_b(b, n + j, c);
              acc +=
                  static_cast<double>(dw0(b, i, j)) * static_cast<double>(raw_w0(b, i * m + j, 0) + bil * inv_sqrt_d);
            }
        } else if (which == 1) {
          for (std::int64_t j = 0; j < m; ++j)
            acc += static_cast<double>(dw1(b, j)) * static_cast<double>(raw_w1(b, j, 0));
        } else if (which == 2) {
          for (std::int64_t j = 0; j < m; ++j)
            acc += static_cast<double>(db0(b, j)) * static_cast<double>(raw_b0(b, j, 0));
        } else {
          acc = static_cast<double>(db1(b)) * static_cast<double>(raw_b1(b, 0, 0));
        }
        dP(b, off_gamma + which) += static_cast<T>(compat::exp(static_cast<double>(P(b, off_gamma + which))) * acc);
      });

  if (!bilinear) return;
  // One item per (network, node row, channel) gathers over the partner index.
  const bool want_a = present(dbil_a), want_b = present(dbil_b);
  Kokkos::parallel_for(
      "hnet::readout_backward::bilinear", Kokkos::RangePolicy<E>(exec, 0, batch * (n + m) * d),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / ((n + m) * d), row = (flat / d) % (n + m), c = flat % d;
        const T scale = compat::exp(P(b, off_gamma)) * inv_sqrt_d;
        T acc = 0;
        if (row < n) {
          if (!want_a) return;
          for (std::int64_t j = 0; j < m; ++j) acc += dw0(b, row, j) * bil_b(b, n + j, c);
          dbil_a(b, row, c) += scale * acc;
        } else {
          if (!want_b) return;
          for (std::int64_t i = 0; i < n; ++i) acc += dw0(b, i, row - n) * bil_a(b, i, c);
          dbil_b(b, row, c) += scale * acc;
        }
      });
}

}  // namespace hnet::kernels
