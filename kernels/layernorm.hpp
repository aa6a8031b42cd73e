#pragma once
// Layer normalisation over the last axis with a learned gain and bias per network (model.md §5):
//   y[b,r,c] = (x[b,r,c] − μ[b,r]) · rstd[b,r] · gain[b,c] + bias[b,c],  rstd = 1/sqrt(var + eps).
// One row per work item. Row sums run in double over 4 interleaved partial sums combined as
// (s0 + s1) + (s2 + s3): a fixed order (deterministic for any thread count) whose dependency
// chains are 4× shorter than one serial sum, which otherwise bounds this kernel. Forward saves μ
// and rstd rounded to T and normalises with those rounded values, so the backward recomputes
// exactly the x̂ that the forward used.
#include <cstdint>

#include "kernels/compat.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

constexpr double layernorm_eps = 1e-5;

namespace layernorm_detail {
constexpr std::int64_t lanes = 4;
// Channels per work item of the gain/bias gradient: each row is read as a contiguous run.
constexpr std::int64_t block = 8;
KOKKOS_INLINE_FUNCTION double combine(const double (&s)[lanes]) { return (s[0] + s[1]) + (s[2] + s[3]); }
}  // namespace layernorm_detail

// y, x: [B][R][C]; mean, rstd: [B][R] (saved); gain at P(b, off_gain + c), bias at P(b, off_bias + c).
template <class E, class T>
void layernorm_forward(const E& exec, const V3<E, T>& y, const V2<E, T>& mean, const V2<E, T>& rstd,
                       const V3<E, T>& x, const V2<E, T>& P, std::int64_t off_gain, std::int64_t off_bias) {
  using namespace layernorm_detail;
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  const double inv_c = 1.0 / static_cast<double>(C);
  Kokkos::parallel_for(
      "hnet::layernorm_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        const std::int64_t full = C - C % lanes;
        double part[lanes] = {};
        for (std::int64_t c = 0; c < full; c += lanes)
          for (std::int64_t l = 0; l < lanes; ++l) part[l] += static_cast<double>(x(b, r, c + l));
        double sum = combine(part);
        for (std::int64_t c = full; c < C; ++c) sum += static_cast<double>(x(b, r, c));
        const T mu = static_cast<T>(sum * inv_c);
        // Two passes: E[(x − μ)²] does not cancel catastrophically the way E[x²] − μ² does.
        const double mu_d = static_cast<double>(mu);
        double part2[lanes] = {};
        for (std::int64_t c = 0; c < full; c += lanes)
          for (std::int64_t l = 0; l < lanes; ++l) {
            const double dev = static_cast<double>(x(b, r, c + l)) - mu_d;
            part2[l] += dev * dev;
          }
        double var = combine(part2);
        for (std::int64_t c = full; c < C; ++c) {
          const double dev = static_cast<double>(x(b, r, c)) - mu_d;
          var += dev * dev;
        }
        const T rs = static_cast<T>(1.0 / compat::sqrt(var * inv_c + layernorm_eps));
        mean(b, r) = mu;
        rstd(b, r) = rs;
        for (std::int64_t c = 0; c < C; ++c)
          y(b, r, c) = (x(b, r, c) - mu) * rs * P(b, off_gain + c) + P(b, off_bias + c);
      });
}

// dx += ∂J/∂x (skipped when dx is not present); dgain, dbias += Σ_r (at their offsets in dP).
template <class E, class T>
void layernorm_backward(const E& exec, const V3<E, T>& dx, const V2<E, T>& dP, const V3<E, T>& dy,
                        const V3<E, T>& x, const V2<E, T>& P, const V2<E, T>& mean, const V2<E, T>& rstd,
                        std::int64_t off_gain, std::int64_t off_bias) {
  using namespace layernorm_detail;
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  const double inv_c = 1.0 / static_cast<double>(C);
  if (present(dx)) {
    // dx = rstd · (g − mean_c(g) − x̂ · mean_c(g · x̂)) with g = dy · gain.
    Kokkos::parallel_for(
        "hnet::layernorm_backward::dx", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / R, r = flat % R;
          const T mu = mean(b, r), rs = rstd(b, r);
          const std::int64_t full = C - C % lanes;
          double part_g[lanes] = {}, part_gx[lanes] = {};
          for (std::int64_t c = 0; c < full; c += lanes)
            for (std::int64_t l = 0; l < lanes; ++l) {
              const double g = static_cast<double>(dy(b, r, c + l)) * static_cast<double>(P(b, off_gain + c + l));
              part_g[l] += g;
              part_gx[l] += g * static_cast<double>((x(b, r, c + l) - mu) * rs);
            }
          double sum_g = combine(part_g), sum_gx = combine(part_gx);
          for (std::int64_t c = full; c < C; ++c) {
            const double g = static_cast<double>(dy(b, r, c)) * static_cast<double>(P(b, off_gain + c));
            sum_g += g;
            sum_gx += g * static_cast<double>((x(b, r, c) - mu) * rs);
          }
          // Elementwise, so in T: in float it vectorises 4 wide.
          const T mean_g = static_cast<T>(sum_g * inv_c), mean_gx = static_cast<T>(sum_gx * inv_c);
          for (std::int64_t c = 0; c < C; ++c) {
            const T g = dy(b, r, c) * P(b, off_gain + c);
            dx(b, r, c) += rs * (g - mean_g - (x(b, r, c) - mu) * rs * mean_gx);
          }
        });
  }
  // One work item per (network, block of channels) owns those gain and bias gradients and streams
  // every row in order.
  const std::int64_t blocks = (C + block - 1) / block;
  Kokkos::parallel_for(
      "hnet::layernorm_backward::gain_bias", Kokkos::RangePolicy<E>(exec, 0, B * blocks),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / blocks, c0 = (flat % blocks) * block;
        const std::int64_t nc = C - c0 < block ? C - c0 : block;
        double dgain[block] = {}, dbias[block] = {};
        for (std::int64_t r = 0; r < R; ++r) {
          const T mu = mean(b, r), rs = rstd(b, r);
          for (std::int64_t k = 0; k < nc; ++k) {
            const double g = static_cast<double>(dy(b, r, c0 + k));
            dgain[k] += g * static_cast<double>((x(b, r, c0 + k) - mu) * rs);
            dbias[k] += g;
          }
        }
        for (std::int64_t k = 0; k < nc; ++k) {
          dP(b, off_gain + c0 + k) += static_cast<T>(dgain[k]);
          dP(b, off_bias + c0 + k) += static_cast<T>(dbias[k]);
        }
      });
}

}  // namespace hnet::kernels
