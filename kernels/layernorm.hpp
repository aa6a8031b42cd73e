#pragma once
// Layer normalisation over the last axis with a learned gain and bias per network (model.md §5):
//   y[b,r,c] = (x[b,r,c] − μ[b,r]) · rstd[b,r] · gain[b,c] + bias[b,c],  rstd = 1/sqrt(var + eps).
// One row per work item (the host's backward: one network per work item when there are enough
// networks, see layernorm_backward). Row sums run over `lanes` interleaved partial sums in T,
// added at the end as a balanced tree of neighbours: a fixed order (deterministic for any thread
// count) that vectorises. On the host 16 lanes, two AVX registers of floats: with one register
// each row's sum was a chain of dependent vector adds and the layer norm waited on their latency
// (paper size on Zen 4: forward 1.9 → 0.8 ms, backward 2.8–3.4 → 1.7 ms; quick 145 → 118 µs and
// 200 → 168 µs; 32 lanes were slower than 16; each row's bits changed with the order). GPU
// threads keep 8 lanes in registers. Rows are short
// (d … 3d), so float partial sums lose nothing that matters; the gradient checks run in double.
// Forward saves μ and rstd and normalises with exactly those values, so the backward recomputes
// exactly the x̂ that the forward used.
#include <cstdint>

#include "kernels/compat.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

constexpr double layernorm_eps = 1e-5;

namespace layernorm_detail {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
constexpr int lanes = 8;
#else
constexpr int lanes = 16;
#endif
// Channels per work item of the gain/bias gradient: each row is read as a contiguous run.
constexpr int block = 16;
// The lanes' partial sums added as a balanced tree of neighbours, ((s0 + s1) + (s2 + s3)) + …,
// written as one expression: a loop that halves the array in place was 20-40 % slower (measured).
template <int First, int Count, class T>
KOKKOS_INLINE_FUNCTION T pairwise_lanes(const T (&s)[lanes]) {
  if constexpr (Count == 1)
    return s[First];
  else
    return pairwise_lanes<First, Count / 2>(s) + pairwise_lanes<First + Count / 2, Count / 2>(s);
}
template <class T>
KOKKOS_INLINE_FUNCTION T combine(const T (&s)[lanes]) {
  return pairwise_lanes<0, lanes>(s);
}
// Σ_c f(c) over one row: `lanes` interleaved partial sums, then the ragged tail in order.
template <class T, class F>
KOKKOS_INLINE_FUNCTION T row_sum(std::int64_t C, const F& f) {
  const std::int64_t full = C - C % lanes;
  T part[lanes] = {};
  for (std::int64_t c = 0; c < full; c += lanes)
    for (int l = 0; l < lanes; ++l) part[l] += f(c + l);
  T sum = combine(part);
  for (std::int64_t c = full; c < C; ++c) sum += f(c);
  return sum;
}
// The summands of the row sums, as plain functors (hand-written lambdas may not capture here).
template <class T>
struct Value {
  const T* x;
  KOKKOS_INLINE_FUNCTION T operator()(std::int64_t c) const { return x[c]; }
};
template <class T>
struct SquaredDeviation {
  const T* x;
  T mu;
  KOKKOS_INLINE_FUNCTION T operator()(std::int64_t c) const { return (x[c] - mu) * (x[c] - mu); }
};
template <class T>
struct GainedGradient {  // g = dy · gain
  const T* dy;
  const T* gain;
  KOKKOS_INLINE_FUNCTION T operator()(std::int64_t c) const { return dy[c] * gain[c]; }
};
template <class T>
struct GainedGradientTimesNormed {  // g · x̂
  const T* dy;
  const T* gain;
  const T* x;
  T mu, rs;
  KOKKOS_INLINE_FUNCTION T operator()(std::int64_t c) const { return dy[c] * gain[c] * ((x[c] - mu) * rs); }
};
// One row from its μ and rstd: y = (x − μ) · rstd · gain + bias (y may be x). The backward of a
// fused layer rebuilds y with it from the saved μ and rstd: the forward's bits.
template <class T>
KOKKOS_INLINE_FUNCTION void apply_row(T* yr, const T* xr, T mu, T rs, const T* gain, const T* bias, std::int64_t C) {
  for (std::int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - mu) * rs * gain[c] + bias[c];
}
// One row: μ and rstd into mean_out / rstd_out, y = (x − μ) · rstd · gain + bias. y may be x (the
// row normalised in place: each element is read before it is written).
template <class T>
KOKKOS_INLINE_FUNCTION void normalize_row(T* yr, T& mean_out, T& rstd_out, const T* xr, const T* gain,
                                          const T* bias, std::int64_t C, T inv_c) {
  const T mu = row_sum<T>(C, Value<T>{xr}) * inv_c;
  // Two passes: E[(x − μ)²] does not cancel catastrophically the way E[x²] − μ² does.
  const T var = row_sum<T>(C, SquaredDeviation<T>{xr, mu}) * inv_c;
  const T rs = T(1) / compat::sqrt(var + T(layernorm_eps));
  mean_out = mu;
  rstd_out = rs;
  apply_row(yr, xr, mu, rs, gain, bias, C);
}
// One row's dx += rstd · (g − mean_c(g) − x̂ · mean_c(g · x̂)) with g = dy · gain (dx = … without add).
template <class T>
KOKKOS_INLINE_FUNCTION void add_row_dx(T* dxr, const T* dyr, const T* xr, const T* gain, T mu, T rs, std::int64_t C,
                                       T inv_c, bool add) {
  const T mean_g = row_sum<T>(C, GainedGradient<T>{dyr, gain}) * inv_c;
  const T mean_gx = row_sum<T>(C, GainedGradientTimesNormed<T>{dyr, gain, xr, mu, rs}) * inv_c;
  for (std::int64_t c = 0; c < C; ++c) {
    const T g = dyr[c] * gain[c];
    write_or_add(dxr[c], rs * (g - mean_g - (xr[c] - mu) * rs * mean_gx), add);
  }
}
// One row's terms of the gain and bias gradients, for `count` channels from xr/dyr on:
// dgain[k] += dy·x̂ and dbias[k] += dy, in double (they are long sums, over every row). Called with
// a compile-time count, the loop vectorises.
template <class T>
KOKKOS_INLINE_FUNCTION void add_gain_bias_terms(double* dgain, double* dbias, const T* dyr, const T* xr, T mu, T rs,
                                                std::int64_t count) {
  for (std::int64_t k = 0; k < count; ++k) {
    const double g = static_cast<double>(dyr[k]);
    dgain[k] += g * static_cast<double>((xr[k] - mu) * rs);
    dbias[k] += g;
  }
}
// The gain and bias sums of one network into dP: dgain[k], dbias[k] for `count` channels from
// offsets off_gain, off_bias on.
template <class DPView>
KOKKOS_INLINE_FUNCTION void add_gain_bias_sums(const DPView& dP, std::int64_t b, std::int64_t off_gain,
                                               std::int64_t off_bias, const double* dgain, const double* dbias,
                                               std::int64_t count) {
  using T = typename DPView::non_const_value_type;
  for (std::int64_t k = 0; k < count; ++k) {
    dP(b, off_gain + k) += static_cast<T>(dgain[k]);
    dP(b, off_bias + k) += static_cast<T>(dbias[k]);
  }
}
}  // namespace layernorm_detail

// Whether the host's backward takes a network per work item: when every thread has one.
template <class E>
bool layernorm_by_network(const E& exec, std::int64_t networks) {
  if constexpr (on_host<E>)
    return networks >= exec.concurrency();
  else
    return false;
}

// y, x: [B][R][C]; mean, rstd: [B][R] (saved); gain at P(b, off_gain + c), bias at P(b, off_bias + c).
template <class E, class T>
void layernorm_forward(const E& exec, const V3<E, T>& y, const V2<E, T>& mean, const V2<E, T>& rstd,
                       const V3<E, T>& x, const V2<E, T>& P, std::int64_t off_gain, std::int64_t off_bias) {
  using namespace layernorm_detail;
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  const T inv_c = T(1) / static_cast<T>(C);
  Kokkos::parallel_for(
      "hnet::layernorm_forward", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / R, r = flat % R;
        normalize_row(&y(b, r, 0), mean(b, r), rstd(b, r), &x(b, r, 0), &P(b, off_gain), &P(b, off_bias), C, inv_c);
      });
}

// The host's backward when every thread has a network of its own: one work item per network
// walks its rows in order, writes each row's dx and adds its terms to the gain and bias sums (in
// double, in team scratch) while the row is in L1, so x and dy are read once instead of twice. The
// sums are the gain_bias kernel's, in its order, and dx is the dx kernel's: the same bits.
template <class E, class T>
void layernorm_backward_by_network(const E& exec, const V3<E, T>& dx, const V2<E, T>& dP, const V3<E, T>& dy,
                                   const V3<E, T>& x, const V2<E, T>& P, const V2<E, T>& mean,
                                   const V2<E, T>& rstd, std::int64_t off_gain, std::int64_t off_bias, bool add) {
  using namespace layernorm_detail;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  const T inv_c = T(1) / static_cast<T>(C);
  const std::size_t sums_bytes = 2 * static_cast<std::size_t>(C) * sizeof(double);
  Kokkos::parallel_for(
      "hnet::layernorm_backward::by_network",
      Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(sums_bytes + alignof(double))),
      KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank();
        double* const dgain = static_cast<double*>(team.team_scratch(1).get_shmem_aligned(sums_bytes, alignof(double)));
        double* const dbias = dgain + C;
        for (std::int64_t c = 0; c < 2 * C; ++c) dgain[c] = 0.0;
        const T* gain = &P(b, off_gain);
        for (std::int64_t r = 0; r < R; ++r) {
          const T mu = mean(b, r), rs = rstd(b, r);
          const T* xr = &x(b, r, 0);
          const T* dyr = &dy(b, r, 0);
          add_row_dx(&dx(b, r, 0), dyr, xr, gain, mu, rs, C, inv_c, add);
          add_gain_bias_terms(dgain, dbias, dyr, xr, mu, rs, C);
        }
        add_gain_bias_sums(dP, b, off_gain, off_bias, dgain, dbias, C);
      });
}

// The backward in two kernels with B·R and B·C/8 work items: a thread per row for dx, then one
// per (network, block of channels) for the gain and bias sums. GPUs, and hosts with more threads
// than networks, run this one.
template <class E, class T>
void layernorm_backward_by_rows(const E& exec, const V3<E, T>& dx, const V2<E, T>& dP, const V3<E, T>& dy,
                                const V3<E, T>& x, const V2<E, T>& P, const V2<E, T>& mean, const V2<E, T>& rstd,
                                std::int64_t off_gain, std::int64_t off_bias, bool add) {
  using namespace layernorm_detail;
  const std::int64_t B = x.extent(0), R = x.extent(1), C = x.extent(2);
  const T inv_c = T(1) / static_cast<T>(C);
  if (present(dx)) {
    Kokkos::parallel_for(
        "hnet::layernorm_backward::dx", Kokkos::RangePolicy<E>(exec, 0, B * R), KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / R, r = flat % R;
          const T mu = mean(b, r), rs = rstd(b, r);
          const T* xr = &x(b, r, 0);
          const T* dyr = &dy(b, r, 0);
          add_row_dx(&dx(b, r, 0), dyr, xr, &P(b, off_gain), mu, rs, C, inv_c, add);
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
        // Long sums (every row), so in double; a full block has a compile-time width and vectorises.
        double dgain[block] = {}, dbias[block] = {};
        for (std::int64_t r = 0; r < R; ++r) {
          const T mu = mean(b, r), rs = rstd(b, r);
          const T* xr = &x(b, r, c0);
          const T* dyr = &dy(b, r, c0);
          if (nc == block)
            add_gain_bias_terms(dgain, dbias, dyr, xr, mu, rs, block);
          else
            add_gain_bias_terms(dgain, dbias, dyr, xr, mu, rs, nc);
        }
        add_gain_bias_sums(dP, b, off_gain + c0, off_bias + c0, dgain, dbias, nc);
      });
}

// dx += ∂J/∂x, or dx = ∂J/∂x with dx_mode = Accumulate::no (skipped when dx is not present);
// dgain, dbias += Σ_r (at their offsets in dP). Both schedules give the same bits, so the choice
// by thread count keeps results independent of it.
template <class E, class T>
void layernorm_backward(const E& exec, const V3<E, T>& dx, const V2<E, T>& dP, const V3<E, T>& dy,
                        const V3<E, T>& x, const V2<E, T>& P, const V2<E, T>& mean, const V2<E, T>& rstd,
                        std::int64_t off_gain, std::int64_t off_bias, Accumulate dx_mode = Accumulate::yes) {
  const bool add = dx_mode == Accumulate::yes;
  if constexpr (on_host<E>) {
    if (present(dx) && layernorm_by_network(exec, x.extent(0))) {
      layernorm_backward_by_network(exec, dx, dP, dy, x, P, mean, rstd, off_gain, off_bias, add);
      return;
    }
  }
  layernorm_backward_by_rows(exec, dx, dP, dy, x, P, mean, rstd, off_gain, off_bias, add);
}

}  // namespace hnet::kernels
