#pragma once
// Linear layer with per-network weights, the hot kernel of the hypernetwork:
//   y[b,r,o] = Σ_i x[b,r,i] · W[b][i][o] + bias[b][o],
// W at P(b, off_w + i·Cout + o) (row-major [in][out]), bias at P(b, off_b + o); off_b < 0: no bias.
//
// All three products (y = x·W, dx = dy·Wᵀ, dW = xᵀ·dy) are B small GEMMs with different weights.
// Each work item owns a register tile of outputs (MR rows × NR channels) and runs its whole
// reduction serially in index order, so the summation order of every element is fixed by the
// tile shape alone: results do not depend on the thread count. The tile shape is chosen per
// backend and instruction set (linear_detail::HostTile), as a BLAS micro-kernel is: on x86 with
// AVX2 + FMA, 6 × 16 floats are 12 ymm accumulators, and a step of k loads 2 vectors of W,
// broadcasts 6 values of x and issues 12 FMAs. The vector width changes no sum (each element is
// the same chain of FMAs in k order: θ after 20 steps was identical with 12 × 16 and 12 × 32 tiles).
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "kernels/activations.hpp"
#include "kernels/compat.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

namespace linear_detail {

// MR × NR accumulators must fit the vector register file with room for the W row and a broadcast.
#if defined(__AVX512F__)
struct HostTile { static constexpr int rows = 12, cols = 32; };  // 24 of 32 zmm registers
#elif defined(__AVX2__) || defined(__AVX__)
struct HostTile { static constexpr int rows = 6, cols = 16; };   // 12 of 16 ymm registers
#else
struct HostTile { static constexpr int rows = 4, cols = 8; };    // 8 of 16 xmm registers (SSE2)
#endif
// GPU threads hold the tile in registers too; more would cost occupancy.
struct DeviceTile { static constexpr int rows = 4, cols = 8; };

template <class E>
using Tile = std::conditional_t<on_host<E>, HostTile, DeviceTile>;

// Rows of dx per team (GPUs; hosts with few networks per thread): the team transposes W once.
constexpr std::int64_t dx_team_rows = 256;
// dW: on the host one work item covers every input tile of one output tile, in order, so the
// column block of dy it streams stays in L2 across them (GPUs keep one tile per thread).
template <class E>
constexpr bool dw_items_span_inputs = on_host<E>;

KOKKOS_INLINE_FUNCTION std::int64_t clamp_tile(std::int64_t remaining, std::int64_t tile) {
  return remaining < tile ? remaining : tile;
}

// Where a tile's sums go: out[rr·row + cc] = sum (+ bias[cc]), += with add, or = residual[…] + …
// with a residual (same row stride as out). Swish fused on either side (same row stride as out):
// with `activated` (a layer before a swish) the sum v goes there as swish(v) and `out` takes its
// slope swish′(v) instead of v, all that the backward needs of v; with `slope` (dx of a layer after
// a swish) the sum is multiplied by slope[…] before it is stored: the gradient of the swish's
// input. Both are the bits of the separate swish kernels, applied to the same float. Plain values,
// not a lambda capturing by reference: GCC then cannot prove the accumulators private to the tile
// and stops vectorising it (measured: 2 instead of 54 GFLOP/s).
template <class T>
struct TileOut {
  T* out;
  std::int64_t row;
  const T* bias;      // nullptr: none
  bool add;
  const T* residual;  // nullptr: none
  T* activated = nullptr;
  const T* slope = nullptr;
  KOKKOS_FORCEINLINE_FUNCTION void operator()(std::int64_t rr, std::int64_t cc, T sum) const {
    const std::int64_t at = rr * row + cc;
    T v = bias ? sum + bias[cc] : sum;
    if (slope) v = v * slope[at];
    if (activated) {
      activated[at] = swish(v);
      out[at] = swish_derivative(v);
    } else if (add) {
      out[at] += v;
    } else if (residual) {
      out[at] = residual[at] + v;
    } else {
      out[at] = v;
    }
  }
};

// Memory a tile fetches into cache while it computes, a line per step of k: the next tile's rows
// of the row-major operand (forward, dx), which otherwise arrive from memory only when that tile
// asks for them. In the step the operands come from memory, not cache as in the kernel benchmarks:
// the paper-size forward ran 20-25 % faster with it, measured against dW in the same runs.
// Empty: none.
struct Ahead {
  const char* from = nullptr;
  const char* to = nullptr;
};
template <class T>
KOKKOS_INLINE_FUNCTION Ahead rows_ahead(const T* first, std::int64_t rows, std::int64_t row) {
  if (rows <= 0) return {};
  const char* from = reinterpret_cast<const char*>(first);
  return {from, from + rows * row * static_cast<std::int64_t>(sizeof(T))};
}

// Σ_k a[rr·a_row + k·a_k] · b[k·b_k + cc] for every rr < nr, cc < nc of one tile, k in order, then
// into `to`. The k loop steps pointers until b meets its end: GCC then cannot count its trips and
// does not vectorise it as an in-order reduction over k with gathered loads; the unrolled tile
// loops inside vectorise instead. A full tile and a ragged one keep separate accumulators, so the
// full tile's are never indexed at run time and stay in registers; both sum in the same order.
// The full tile on the host, written with GCC's vector extensions: left to the SLP vectoriser, the
// same loops vectorise in some inlining contexts and fall back to scalar code with the
// accumulators on the stack in others (measured: dW at 2.7 instead of 30 GFLOP/s).
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define HNET_HOST_VECTOR_TILE 1
template <class T>
constexpr bool host_vector_type = std::is_same<T, float>::value || std::is_same<T, double>::value;
using compat::host_vector_bytes;
template <int MR, int NR, class T>
inline __attribute__((always_inline)) void full_tile_host(const T* a, std::int64_t a_row, std::int64_t a_k,
                                                          const T* b, std::int64_t b_k, const T* const b_end,
                                                          const TileOut<T> to, bool resume, Ahead ahead) {
  // The widest vector a tile row fills: a tile of 8 floats on AVX-512 runs on ymm registers.
  constexpr int bytes = NR * sizeof(T) < host_vector_bytes ? NR * sizeof(T) : host_vector_bytes;
  typedef T V __attribute__((vector_size(bytes)));
  constexpr int W = bytes / sizeof(T), NV = NR / W;
  static_assert(NR % W == 0, "the tile width must be a multiple of the vector width");
  V acc[MR][NV];
  HNET_UNROLL for (int rr = 0; rr < MR; ++rr) HNET_UNROLL for (int j = 0; j < NV; ++j) {
    if (resume)
      __builtin_memcpy(&acc[rr][j], to.out + rr * to.row + j * W, sizeof(V));
    else
      acc[rr][j] = V{};
  }
  // dW (a_k ≠ 1) steps both operands a row of the activations per k, a new cache line each from
  // L3 at that size: fetched 8 rows ahead, dW runs 10-20 % faster at paper size (measured; the
  // forward and dx read one operand along a row and lose by it, so they do not prefetch).
  const bool both_strided = a_k != 1;
  for (; b != b_end; b += b_k, a += a_k) {
    if (both_strided) {
      __builtin_prefetch(a + 8 * a_k);
      __builtin_prefetch(b + 8 * b_k);
    } else if (ahead.from < ahead.to) {
      __builtin_prefetch(ahead.from);
      ahead.from += 64;
    }
    V bv[NV];
    HNET_UNROLL for (int j = 0; j < NV; ++j) __builtin_memcpy(&bv[j], b + j * W, sizeof(V));
    HNET_UNROLL for (int rr = 0; rr < MR; ++rr) {
      const T av = a[rr * a_row];
      HNET_UNROLL for (int j = 0; j < NV; ++j) acc[rr][j] += av * bv[j];
    }
  }
  // TileOut's arithmetic a vector at a time (the same operations in the same order, so the same
  // bits): with inner dimensions of 32 … 192, scalar stores would cost a fifth of the tile.
  const auto load = [](const T* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
  };
  // Swish and its slope on the whole vector for floats (lanes::), element by element otherwise.
  const auto swish_and_slope = [](V z, V& activated, V& slope) {
#if defined(HNET_HOST_LANES)
    if constexpr (std::is_same<T, float>::value) {
      activated = lanes::swish(z), slope = lanes::swish_derivative(z);
      return;
    }
#endif
    for (int w = 0; w < W; ++w) activated[w] = swish(z[w]), slope[w] = swish_derivative(z[w]);
  };
  HNET_UNROLL for (int rr = 0; rr < MR; ++rr) {
    T* const row = to.out + rr * to.row;
    HNET_UNROLL for (int j = 0; j < NV; ++j) {
      V v = acc[rr][j];
      if (to.bias) v = v + load(to.bias + j * W);
      if (to.slope) v = v * load(to.slope + rr * to.row + j * W);
      if (to.activated) {
        V activated{}, slope{};  // {}: GCC cannot see that the lane loop fills them (doubles)
        swish_and_slope(v, activated, slope);
        __builtin_memcpy(to.activated + rr * to.row + j * W, &activated, sizeof(V));
        v = slope;
      } else if (to.add) {
        v = load(row + j * W) + v;
      } else if (to.residual) {
        v = load(to.residual + rr * to.row + j * W) + v;
      }
      __builtin_memcpy(row + j * W, &v, sizeof(V));
    }
  }
}
// A tile of nr < MR full-width rows (dW's last input tile when MR does not divide Cin: 32 = 5·6 + 2)
// as the vector tile of height nr, picked at compile time: the same sums in the same order as
// the scalar ragged path, without its accumulators on the stack.
template <int MR, int NR, class T>
inline __attribute__((always_inline)) bool short_tile_host(std::int64_t nr, const T* a, std::int64_t a_row,
                                                           std::int64_t a_k, const T* b, std::int64_t b_k,
                                                           const T* const b_end, const TileOut<T> to, bool resume) {
  if constexpr (MR > 1) {
    if (nr == MR - 1) {
      full_tile_host<MR - 1, NR>(a, a_row, a_k, b, b_k, b_end, to, resume, Ahead());
      return true;
    }
    return short_tile_host<MR - 1, NR>(nr, a, a_row, a_k, b, b_k, b_end, to, resume);
  }
  return false;
}
#endif

// resume: the sums start from the values in `to.out` (a tile continued over a further block of k,
// which a plain store `to` wrote; a float stored and reloaded is exact, so the bits are those of
// one pass over all k) instead of from 0.
template <int MR, int NR, class T>
KOKKOS_FORCEINLINE_FUNCTION void tile_product(const T* a, std::int64_t a_row, std::int64_t a_k, const T* b,
                                              std::int64_t b_k, std::int64_t k_count, std::int64_t nr,
                                              std::int64_t nc, const TileOut<T> to, bool resume = false,
                                              Ahead ahead = {}) {
  const T* const b_end = b + k_count * b_k;
  if (nr == MR && nc == NR) {
#if defined(HNET_HOST_VECTOR_TILE)
    if (host_vector_type<T>) {
      full_tile_host<MR, NR>(a, a_row, a_k, b, b_k, b_end, to, resume, ahead);
      return;
    }
#endif
    T acc[MR][NR] = {};
    if (resume)
      HNET_UNROLL for (int rr = 0; rr < MR; ++rr)
        HNET_UNROLL for (int cc = 0; cc < NR; ++cc) acc[rr][cc] = to.out[rr * to.row + cc];
    for (; b != b_end; b += b_k, a += a_k) {
      T bk[NR];
      HNET_UNROLL for (int cc = 0; cc < NR; ++cc) bk[cc] = b[cc];
      HNET_UNROLL for (int rr = 0; rr < MR; ++rr) {
        const T av = a[rr * a_row];
        HNET_UNROLL for (int cc = 0; cc < NR; ++cc) acc[rr][cc] += av * bk[cc];
      }
    }
    HNET_UNROLL for (int rr = 0; rr < MR; ++rr)
      HNET_UNROLL for (int cc = 0; cc < NR; ++cc) to(rr, cc, acc[rr][cc]);
  } else {
#if defined(HNET_HOST_VECTOR_TILE)
    if (host_vector_type<T> && nc == NR && short_tile_host<MR, NR>(nr, a, a_row, a_k, b, b_k, b_end, to, resume))
      return;
#endif
    T acc[MR][NR] = {};
    if (resume)
      for (std::int64_t rr = 0; rr < nr; ++rr)
        for (std::int64_t cc = 0; cc < nc; ++cc) acc[rr][cc] = to.out[rr * to.row + cc];
    for (; b != b_end; b += b_k, a += a_k)
      for (std::int64_t rr = 0; rr < nr; ++rr) {
        const T av = a[rr * a_row];
        for (std::int64_t cc = 0; cc < nc; ++cc) acc[rr][cc] += av * b[cc];
      }
    for (std::int64_t rr = 0; rr < nr; ++rr)
      for (std::int64_t cc = 0; cc < nc; ++cc) to(rr, cc, acc[rr][cc]);
  }
}

// f(std::integral_constant<int, NR>) with the output channels of one tile for a layer of `channels`
// outputs: the tile's width, or for narrow layers (2k = 8, d → 1), where a full tile would compute
// mostly padding, the widest of its halves down to 8 that the layer fills; a single channel (the
// read-out's heads) one column, a vector tile of scalars (in a tile of 8 it took the ragged path,
// its sums in memory: 6 ms of the paper step for 6 MFLOP).
template <class E, int NR = Tile<E>::cols, class F>
void with_tile_cols(std::int64_t channels, F&& f) {
  if (channels == 1) return f(std::integral_constant<int, 1>{});  // a read-out head: one column
  if constexpr (NR > 8) {
    if (channels < NR) return with_tile_cols<E, NR / 2>(channels, f);
  }
  f(std::integral_constant<int, NR>{});
}

// y tile (rows r0.., channels o0..) = x·W (+ bias), written or added.
template <class E, int NR, class T>
void forward_tiles(const E& exec, const V3<E, T>& y, const V3<E, T>& x, const V2<E, T>& P, std::int64_t off_w,
                   std::int64_t off_b, bool accumulate, const V3<E, T>& residual, const V3<E, T>& activated) {
  constexpr int MR = Tile<E>::rows;
  const std::int64_t B = x.extent(0), R = x.extent(1), Cin = x.extent(2), Cout = y.extent(2);
  const std::int64_t x_stride = x.stride_1(), y_stride = y.stride_1();
  const bool with_residual = present(residual), with_activated = present(activated);
  const std::int64_t row_tiles = (R + MR - 1) / MR, col_tiles = (Cout + NR - 1) / NR, tiles = row_tiles * col_tiles;
  Kokkos::parallel_for(
      "hnet::linear_forward", Kokkos::RangePolicy<E>(exec, 0, B * tiles), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / tiles, t = flat % tiles;
        const std::int64_t r0 = (t / col_tiles) * MR, o0 = (t % col_tiles) * NR;
        const std::int64_t nr = clamp_tile(R - r0, MR), nc = clamp_tile(Cout - o0, NR);
        const TileOut<T> to{&y(b, r0, o0), y_stride, off_b >= 0 ? &P(b, off_b + o0) : nullptr, accumulate,
                            with_residual ? &residual(b, r0, o0) : nullptr,
                            with_activated ? &activated(b, r0, o0) : nullptr};
        const Ahead ahead = rows_ahead(&x(b, 0, 0) + (r0 + MR) * x_stride, clamp_tile(R - r0 - MR, MR), x_stride);
        tile_product<MR, NR>(&x(b, r0, 0), x_stride, 1, &P(b, off_w) + o0, Cout, Cin, nr, nc, to, false, ahead);
      });
}

// wt[o·Cin + i] = W[i][o] (W row-major [Cin][Cout]), the team's threads taking rows of W.
template <class Member, class T>
KOKKOS_INLINE_FUNCTION void transpose_weights(const Member& team, T* wt, const T* w, std::int64_t Cin,
                                              std::int64_t Cout) {
  for (std::int64_t i = team.team_rank(); i < Cin; i += team.team_size())
    for (std::int64_t o = 0; o < Cout; ++o) wt[o * Cin + i] = w[i * Cout + o];
  team.team_barrier();
}

// dx += dy·Wᵀ: the forward's tile product on Wᵀ, which each team first writes into its scratch
// (reading W's columns directly would cost a gather per k).
// team_per_network: a host team takes a whole network (W transposed once per network, not once per
// 256 rows: dx + dW 27.7 → 25.5 ms at paper size); worth it when there are 4 networks per thread
// to balance the threads. The split into teams changes no sum.
template <class E, int NR, class T>
void backward_dx_tiles(const E& exec, const V3<E, T>& dx, const V3<E, T>& dy, const V2<E, T>& P,
                       std::int64_t off_w, bool team_per_network, bool add, const V3<E, T>& swish_slope = {}) {
  constexpr int MR = Tile<E>::rows;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<T*, typename E::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  const std::int64_t B = dy.extent(0), R = dy.extent(1), Cout = dy.extent(2), Cin = dx.extent(2);
  const std::int64_t rows = team_per_network ? (R > 0 ? R : 1) : dx_team_rows;
  const std::int64_t team_rows = (rows + MR - 1) / MR * MR;
  const std::int64_t chunks = (R + team_rows - 1) / team_rows;
  const std::int64_t col_tiles = (Cin + NR - 1) / NR, chunk_tiles = (team_rows / MR) * col_tiles;
  const std::int64_t dy_stride = dy.stride_1(), dx_stride = dx.stride_1();
  const bool through_swish = present(swish_slope);
  const Policy policy =
      Policy(exec, B * chunks, Kokkos::AUTO).set_scratch_size(1, Kokkos::PerTeam(Scratch::shmem_size(Cin * Cout)));
  Kokkos::parallel_for(
      "hnet::linear_backward::dx", policy, KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank() / chunks, chunk = team.league_rank() % chunks;
        const Scratch wt(team.team_scratch(1), Cin * Cout);
        transpose_weights(team, wt.data(), &P(b, off_w), Cin, Cout);
        for (std::int64_t t = team.team_rank(); t < chunk_tiles; t += team.team_size()) {
          const std::int64_t r0 = chunk * team_rows + (t / col_tiles) * MR, i0 = (t % col_tiles) * NR;
          if (r0 >= R) break;
          const std::int64_t nr = clamp_tile(R - r0, MR), nc = clamp_tile(Cin - i0, NR);
          const TileOut<T> to{&dx(b, r0, i0), dx_stride, nullptr, add, nullptr, nullptr,
                              through_swish ? &swish_slope(b, r0, i0) : nullptr};
          const Ahead ahead = rows_ahead(&dy(b, 0, 0) + (r0 + MR) * dy_stride, clamp_tile(R - r0 - MR, MR), dy_stride);
          tile_product<MR, NR>(&dy(b, r0, 0), dy_stride, 1, wt.data() + i0, Cin, Cout, nr, nc, to, false, ahead);
        }
      });
}

// dbias[o0 .. o0 + nc) += Σ_r dy[b, r, o0 + oo], summed in double over the rows in order.
template <int NR, class T, class DyView, class DPView>
KOKKOS_INLINE_FUNCTION void add_dbias_tile(const DPView& dP, const DyView& dy, std::int64_t b, std::int64_t o0,
                                           std::int64_t nc, std::int64_t off_b) {
  const std::int64_t R = dy.extent(1), dy_stride = dy.stride_1();
  double acc[NR] = {};
  const T* dyr = &dy(b, 0, o0);
  if (nc == NR)  // a compile-time width: the sums vectorise (each still in row order)
    for (std::int64_t r = 0; r < R; ++r, dyr += dy_stride)
      HNET_UNROLL for (int oo = 0; oo < NR; ++oo) acc[oo] += static_cast<double>(dyr[oo]);
  else
    for (std::int64_t r = 0; r < R; ++r, dyr += dy_stride)
      for (std::int64_t oo = 0; oo < nc; ++oo) acc[oo] += static_cast<double>(dyr[oo]);
  for (std::int64_t oo = 0; oo < nc; ++oo) dP(b, off_b + o0 + oo) += static_cast<T>(acc[oo]);
}

// dW += xᵀ·dy, one tile (input channels i0.. × output channels o0..) per work item, streaming
// every row in order; the extra row of tiles `in_tiles` holds dbias, summed in double.
template <class E, int NR, class T>
void backward_dw_tiles(const E& exec, const V2<E, T>& dP, const V3<E, T>& dy, const V3<E, T>& x,
                       std::int64_t off_w, std::int64_t off_b) {
  constexpr int MR = Tile<E>::rows;
  const std::int64_t B = x.extent(0), R = x.extent(1), Cin = x.extent(2), Cout = dy.extent(2);
  const std::int64_t x_stride = x.stride_1(), dy_stride = dy.stride_1();
  const std::int64_t in_tiles = (Cin + MR - 1) / MR, out_tiles = (Cout + NR - 1) / NR;
  const std::int64_t rows_of_tiles = in_tiles + (off_b >= 0 ? 1 : 0);  // the last one: dbias
  const std::int64_t span = dw_items_span_inputs<E> ? rows_of_tiles : 1;
  const std::int64_t per_net = (rows_of_tiles / span) * out_tiles;
  Kokkos::parallel_for(
      "hnet::linear_backward::dw_dbias", Kokkos::RangePolicy<E>(exec, 0, B * per_net),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / per_net, t = flat % per_net;
        const std::int64_t o0 = (t % out_tiles) * NR, nc = clamp_tile(Cout - o0, NR);
        for (std::int64_t it = (t / out_tiles) * span; it < (t / out_tiles + 1) * span; ++it) {
          if (it == in_tiles) {
            add_dbias_tile<NR, T>(dP, dy, b, o0, nc, off_b);
            continue;
          }
          const std::int64_t i0 = it * MR, ni = clamp_tile(Cin - i0, MR);
          const TileOut<T> to{&dP(b, off_w + i0 * Cout + o0), Cout, nullptr, true, nullptr};
          tile_product<MR, NR>(&x(b, 0, i0), 1, x_stride, &dy(b, 0, o0), dy_stride, R, ni, nc, to);
        }
      });
}

// Rows per block of the host's dW by network: the block of x (Cin ≤ 192: ≤ 96 KiB) and of dy stay
// in L2 while every tile of W passes over them.
constexpr std::int64_t dw_row_block = 128;

// One network's dW sums over a block of `rows` rows, every tile of W in turn: sums[i·Cout + o]
// (like W, [Cin][Cout]) += Σ_r x[r·x_stride + i] · dy[r·dy_stride + o], the tiles' sums resumed from
// `sums` when `resume` (every block but the first; exact, so the block size changes no bit).
template <int MR, int NR, class T>
KOKKOS_INLINE_FUNCTION void add_dw_rows(T* sums, const T* x, std::int64_t x_stride, const T* dy,
                                        std::int64_t dy_stride, std::int64_t rows, std::int64_t Cin, std::int64_t Cout,
                                        bool resume) {
  for (std::int64_t o0 = 0; o0 < Cout; o0 += NR)
    for (std::int64_t i0 = 0; i0 < Cin; i0 += MR) {
      const TileOut<T> to{sums + i0 * Cout + o0, Cout, nullptr, false, nullptr};
      tile_product<MR, NR>(x + i0, 1, x_stride, dy + o0, dy_stride, rows, clamp_tile(Cin - i0, MR),
                           clamp_tile(Cout - o0, NR), to, resume);
    }
}

// The end of network b's dW by network: dW += sums (when there were rows), then dbias += Σ_r dy
// (when off_b ≥ 0).
template <int NR, class T, class DPView, class DyView>
KOKKOS_INLINE_FUNCTION void add_dw_sums_and_dbias(const DPView& dP, const DyView& dy, const T* sums, std::int64_t b,
                                                  std::int64_t off_w, std::int64_t off_b, std::int64_t Cin,
                                                  std::int64_t Cout) {
  if (dy.extent(1) > 0) {
    T* const dw = &dP(b, off_w);
    for (std::int64_t k = 0; k < Cin * Cout; ++k) dw[k] += sums[k];
  }
  if (off_b >= 0)
    for (std::int64_t o0 = 0; o0 < Cout; o0 += NR)
      add_dbias_tile<NR, T>(dP, dy, b, o0, clamp_tile(Cout - o0, NR), off_b);
}

// dW on the host when there are networks enough for the threads (4 per thread): one team (one
// thread) per network takes the rows a block at a time and, within a block, every tile of W, so x
// and dy are read from memory once per network instead of once per tile of output channels (x is
// larger than L2 at paper size). Each tile's sums run on from block to block through a scratch copy
// of dW (tile_product's resume: exact), and are added to dP at the end: the same sums in the same
// order as backward_dw_tiles, so the same bits.
template <class E, int NR, class T>
void backward_dw_by_network(const E& exec, const V2<E, T>& dP, const V3<E, T>& dy, const V3<E, T>& x,
                            std::int64_t off_w, std::int64_t off_b) {
  constexpr int MR = Tile<E>::rows;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<T*, typename E::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  const std::int64_t B = x.extent(0), R = x.extent(1), Cin = x.extent(2), Cout = dy.extent(2);
  const std::int64_t x_stride = x.stride_1(), dy_stride = dy.stride_1();
  const Policy policy = Policy(exec, B, 1).set_scratch_size(1, Kokkos::PerTeam(Scratch::shmem_size(Cin * Cout)));
  Kokkos::parallel_for(
      "hnet::linear_backward::dw_dbias", policy, KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank();
        const Scratch sums(team.team_scratch(1), Cin * Cout);  // like W: [Cin][Cout]
        for (std::int64_t r0 = 0; r0 < R; r0 += dw_row_block)
          add_dw_rows<MR, NR>(sums.data(), &x(b, r0, 0), x_stride, &dy(b, r0, 0), dy_stride,
                              clamp_tile(R - r0, dw_row_block), Cin, Cout, r0 > 0);
        add_dw_sums_and_dbias<NR>(dP, dy, sums.data(), b, off_w, off_b, Cin, Cout);
      });
}

// dW and dbias in the schedule chosen by linear_backward.
template <class E, int NR, class T>
void backward_dw(const E& exec, const V2<E, T>& dP, const V3<E, T>& dy, const V3<E, T>& x, std::int64_t off_w,
                 std::int64_t off_b, bool by_network) {
  if (by_network)
    backward_dw_by_network<E, NR>(exec, dP, dy, x, off_w, off_b);
  else
    backward_dw_tiles<E, NR>(exec, dP, dy, x, off_w, off_b);
}

}  // namespace linear_detail

// y = x·W + bias, or y += x·W + bias with Accumulate::yes, or y = residual + x·W + bias
// when a residual (shaped like y) is present: a residual stream in one pass instead of a copy
// followed by an accumulation.
template <class E, class T>
void linear_forward(const E& exec, const V3<E, T>& y, const V3<E, T>& x, const V2<E, T>& P, std::int64_t off_w,
                    std::int64_t off_b, Accumulate mode, const V3<E, T>& residual = {}) {
  using namespace linear_detail;
  const bool accumulate = mode == Accumulate::yes;
  with_tile_cols<E>(y.extent(2), [&exec, &y, &x, &P, off_w, off_b, accumulate, &residual](auto cols) {
    forward_tiles<E, decltype(cols)::value>(exec, y, x, P, off_w, off_b, accumulate, residual, V3<E, T>());
  });
}

// A layer followed by a swish, in one pass: with y = x·W + bias, activated = swish(y) and
// slope = swish′(y) (both shaped like y). y itself is not kept: the next layer reads `activated`,
// and this layer's backward needs of y only its slope (linear_backward's swish_slope), so the
// backward computes no swish′ and the forward shares σ(y) between the two.
template <class E, class T>
void linear_swish_forward(const E& exec, const V3<E, T>& activated, const V3<E, T>& slope, const V3<E, T>& x,
                          const V2<E, T>& P, std::int64_t off_w, std::int64_t off_b) {
  using namespace linear_detail;
  with_tile_cols<E>(slope.extent(2), [&exec, &activated, &slope, &x, &P, off_w, off_b](auto cols) {
    forward_tiles<E, decltype(cols)::value>(exec, slope, x, P, off_w, off_b, false, V3<E, T>(), activated);
  });
}

// On the host with 4 networks per thread the backward takes a work item per network (dx: W
// transposed once; dW: x and dy read once); otherwise work items per tile. Both give the same bits.
template <class E>
bool linear_backward_by_network(const E& exec, std::int64_t networks) {
  return on_host<E> && networks >= 4 * static_cast<std::int64_t>(exec.concurrency());
}

// dx += dy·Wᵀ, or dx = dy·Wᵀ with dx_mode = Accumulate::no (skipped when dx is not present);
// dW += Σ_r xᵀ·dy; dbias += Σ_r dy (when off_b ≥ 0). With `swish_slope` (x = swish(y'), and
// swish_slope = swish′(y') as linear_swish_forward wrote it, shaped like x) dx is the gradient of
// the swish's input y' instead: (dy·Wᵀ) ⊙ swish_slope, the swish's backward in the same pass.
template <class E, class T>
void linear_backward(const E& exec, const V3<E, T>& dx, const V2<E, T>& dP, const V3<E, T>& dy, const V3<E, T>& x,
                     const V2<E, T>& P, std::int64_t off_w, std::int64_t off_b,
                     Accumulate dx_mode = Accumulate::yes, const V3<E, T>& swish_slope = {}) {
  using namespace linear_detail;
  // Through a slope dx is assigned (the model's only use): a product that an add followed would be
  // fused into it in some tiles and not in others, so the bits would depend on the tile.
  if (present(swish_slope) && dx_mode == Accumulate::yes)
    throw std::invalid_argument("linear_backward: dx through a swish slope is assigned, not added");
  const bool by_network = linear_backward_by_network(exec, dy.extent(0));
  if (present(dx)) {
    const bool add = dx_mode == Accumulate::yes;
    with_tile_cols<E>(dx.extent(2), [&exec, &dx, &dy, &P, off_w, by_network, add, &swish_slope](auto cols) {
      backward_dx_tiles<E, decltype(cols)::value>(exec, dx, dy, P, off_w, by_network, add, swish_slope);
    });
  }
  with_tile_cols<E>(dy.extent(2), [&exec, &dP, &dy, &x, off_w, off_b, by_network](auto cols) {
    backward_dw<E, decltype(cols)::value>(exec, dP, dy, x, off_w, off_b, by_network);
  });
}

}  // namespace hnet::kernels
