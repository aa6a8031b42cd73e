#pragma once
// Linear layer with per-network weights, the hot kernel of the hypernetwork:
//   y[b,r,o] = Σ_i x[b,r,i] · W[b][i][o] + bias[b][o],
// W at P(b, off_w + i·Cout + o) (row-major [in][out]), bias at P(b, off_b + o); off_b < 0: no bias.
//
// Every work item owns a small register tile of outputs (rows × channels) and runs its whole
// reduction serially in index order. The tile shape is fixed at compile time, so the summation
// order of every element is the same for any thread count, and the tile's accumulators stay in
// vector registers while the weight block of one network is reused from L1/L2 across row tiles.
#include <cstdint>

#include "kernels/views.hpp"

namespace hnet::kernels {

namespace linear_detail {
// 4 × 8 float accumulators are 8 SSE registers; with the B vector and a broadcast they fit the
// 16 that x86-64 has without spilling.
constexpr std::int64_t tile_rows = 4, tile_cols = 8;
// dW tile: input channels × output channels, streaming all rows.
constexpr std::int64_t dw_rows = 4, dw_cols = 8;
// Rows of dx per team: the team transposes W once, so the transpose is ~2% of the team's work.
constexpr std::int64_t dx_team_rows = 64;

// acc[rr][cc] += Σ_k a[rr·a_stride + k] · b[k·b_stride + cc] for rr < nr, cc < nc, k in order.
// The k loop steps a pointer by a runtime stride until it meets the end: GCC then cannot count
// its trips and does not vectorise it as an in-order reduction over k with gathered loads (3-5×
// slower); the unrolled tile loops inside vectorise instead.
template <class T>
KOKKOS_INLINE_FUNCTION void tile_product(T (&acc)[tile_rows][tile_cols], const T* a, std::int64_t a_stride,
                                         const T* b, std::int64_t b_stride, std::int64_t k_count, std::int64_t nr,
                                         std::int64_t nc) {
  const T* const b_end = b + k_count * b_stride;
  if (nr == tile_rows && nc == tile_cols) {
    for (; b != b_end; b += b_stride, ++a) {
      T bk[tile_cols];
      for (std::int64_t cc = 0; cc < tile_cols; ++cc) bk[cc] = b[cc];
      for (std::int64_t rr = 0; rr < tile_rows; ++rr) {
        const T av = a[rr * a_stride];
        for (std::int64_t cc = 0; cc < tile_cols; ++cc) acc[rr][cc] += av * bk[cc];
      }
    }
  } else {  // ragged edge: same order of summation, runtime bounds
    for (; b != b_end; b += b_stride, ++a)
      for (std::int64_t rr = 0; rr < nr; ++rr) {
        const T av = a[rr * a_stride];
        for (std::int64_t cc = 0; cc < nc; ++cc) acc[rr][cc] += av * b[cc];
      }
  }
}

KOKKOS_INLINE_FUNCTION std::int64_t clamp_tile(std::int64_t remaining, std::int64_t tile) {
  return remaining < tile ? remaining : tile;
}
}  // namespace linear_detail

// accumulate = false: y = x·W + bias; true: y += x·W + bias (residuals, sums of linears).
template <class E, class T>
void linear_forward(const E& exec, const V3<E, T>& y, const V3<E, T>& x, const V2<E, T>& P, std::int64_t off_w,
                    std::int64_t off_b, bool accumulate) {
  using namespace linear_detail;
  const std::int64_t B = x.extent(0), R = x.extent(1), Cin = x.extent(2), Cout = y.extent(2);
  const std::int64_t x_stride = x.stride_1();
  const std::int64_t row_tiles = (R + tile_rows - 1) / tile_rows, col_tiles = (Cout + tile_cols - 1) / tile_cols;
  const std::int64_t tiles = row_tiles * col_tiles;
  Kokkos::parallel_for(
      "hnet::linear_forward", Kokkos::RangePolicy<E>(exec, 0, B * tiles), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / tiles, t = flat % tiles;
        const std::int64_t r0 = (t / col_tiles) * tile_rows, o0 = (t % col_tiles) * tile_cols;
        const std::int64_t nr = clamp_tile(R - r0, tile_rows), nc = clamp_tile(Cout - o0, tile_cols);
        T acc[tile_rows][tile_cols] = {};
        tile_product(acc, &x(b, r0, 0), x_stride, &P(b, off_w) + o0, Cout, Cin, nr, nc);
        for (std::int64_t rr = 0; rr < nr; ++rr)
          for (std::int64_t oo = 0; oo < nc; ++oo) {
            const T v = off_b >= 0 ? acc[rr][oo] + P(b, off_b + o0 + oo) : acc[rr][oo];
            if (accumulate)
              y(b, r0 + rr, o0 + oo) += v;
            else
              y(b, r0 + rr, o0 + oo) = v;
          }
      });
}

// dx += dy·Wᵀ (skipped when dx is not present); dW += Σ_r xᵀ·dy; dbias += Σ_r dy (when off_b ≥ 0).
template <class E, class T>
void linear_backward(const E& exec, const V3<E, T>& dx, const V2<E, T>& dP, const V3<E, T>& dy, const V3<E, T>& x,
                     const V2<E, T>& P, std::int64_t off_w, std::int64_t off_b) {
  using namespace linear_detail;
  const std::int64_t B = x.extent(0), R = x.extent(1), Cin = x.extent(2), Cout = dy.extent(2);

  if (present(dx)) {
    // dx = dy·Wᵀ runs the forward's tile product on Wᵀ, which each team first writes into its
    // scratch: reading W's columns directly costs a gather per k and runs ~3× slower.
    using Policy = Kokkos::TeamPolicy<E>;
    using Member = typename Policy::member_type;
    using Scratch = Kokkos::View<T*, typename E::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    const std::int64_t chunks = (R + dx_team_rows - 1) / dx_team_rows;
    const std::int64_t col_tiles = (Cin + tile_cols - 1) / tile_cols;
    const std::int64_t chunk_tiles = ((dx_team_rows + tile_rows - 1) / tile_rows) * col_tiles;
    const std::int64_t dy_stride = dy.stride_1();
    const Policy policy = Policy(exec, B * chunks, Kokkos::AUTO)
                              .set_scratch_size(1, Kokkos::PerTeam(Scratch::shmem_size(Cin * Cout)));
    Kokkos::parallel_for(
        "hnet::linear_backward::dx", policy, KOKKOS_LAMBDA(const Member& team) {
          const std::int64_t b = team.league_rank() / chunks, chunk = team.league_rank() % chunks;
          const Scratch wt(team.team_scratch(1), Cin * Cout);  // wt[o·Cin + i] = W[i][o]
          const T* w = &P(b, off_w);
          for (std::int64_t o = team.team_rank(); o < Cout; o += team.team_size())
            for (std::int64_t i = 0; i < Cin; ++i) wt(o * Cin + i) = w[i * Cout + o];
          team.team_barrier();
          for (std::int64_t t = team.team_rank(); t < chunk_tiles; t += team.team_size()) {
            const std::int64_t r0 = chunk * dx_team_rows + (t / col_tiles) * tile_rows;
            const std::int64_t i0 = (t % col_tiles) * tile_cols;
            if (r0 >= R) break;
            const std::int64_t nr = clamp_tile(R - r0, tile_rows), nc = clamp_tile(Cin - i0, tile_cols);
            T acc[tile_rows][tile_cols] = {};
            tile_product(acc, &dy(b, r0, 0), dy_stride, wt.data() + i0, Cin, Cout, nr, nc);
            for (std::int64_t rr = 0; rr < nr; ++rr)
              for (std::int64_t ii = 0; ii < nc; ++ii) dx(b, r0 + rr, i0 + ii) += acc[rr][ii];
          }
        });
  }

  // Work item (network, block of input channels, block of output channels) owns that block of dW
  // and streams every row in order; the extra input block `in_tiles` holds dbias, summed in double.
  const std::int64_t in_tiles = (Cin + dw_rows - 1) / dw_rows, out_tiles = (Cout + dw_cols - 1) / dw_cols;
  const std::int64_t per_net = (in_tiles + (off_b >= 0 ? 1 : 0)) * out_tiles;
  Kokkos::parallel_for(
      "hnet::linear_backward::dw_dbias", Kokkos::RangePolicy<E>(exec, 0, B * per_net),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / per_net, t = flat % per_net;
        const std::int64_t it = t / out_tiles, o0 = (t % out_tiles) * dw_cols;
        const std::int64_t nc = clamp_tile(Cout - o0, dw_cols);
        if (it == in_tiles) {
          double acc[dw_cols] = {};
          for (std::int64_t r = 0; r < R; ++r)
            for (std::int64_t oo = 0; oo < nc; ++oo) acc[oo] += static_cast<double>(dy(b, r, o0 + oo));
          for (std::int64_t oo = 0; oo < nc; ++oo) dP(b, off_b + o0 + oo) += static_cast<T>(acc[oo]);
          return;
        }
        const std::int64_t i0 = it * dw_rows, ni = clamp_tile(Cin - i0, dw_rows);
        T acc[dw_rows][dw_cols] = {};
        if (ni == dw_rows && nc == dw_cols) {
          for (std::int64_t r = 0; r < R; ++r) {
            const T* xr = &x(b, r, i0);
            const T* dyr = &dy(b, r, o0);
            T g[dw_cols];
            for (std::int64_t oo = 0; oo < dw_cols; ++oo) g[oo] = dyr[oo];
            for (std::int64_t ii = 0; ii < dw_rows; ++ii) {
              const T xv = xr[ii];
              for (std::int64_t oo = 0; oo < dw_cols; ++oo) acc[ii][oo] += xv * g[oo];
            }
          }
        } else {
          for (std::int64_t r = 0; r < R; ++r)
            for (std::int64_t ii = 0; ii < ni; ++ii) {
              const T xv = x(b, r, i0 + ii);
              for (std::int64_t oo = 0; oo < nc; ++oo) acc[ii][oo] += xv * dy(b, r, o0 + oo);
            }
        }
        T* dw = &dP(b, off_w);
        for (std::int64_t ii = 0; ii < ni; ++ii)
          for (std::int64_t oo = 0; oo < nc; ++oo) dw[(i0 + ii) * Cout + o0 + oo] += acc[ii][oo];
      });
}

}  // namespace hnet::kernels
