#pragma once
// β conditioning (model.md §6). φ = L3(swish(L2(swish(L1(u))))), 1 → h1 → h2 → dφ, is shared by
// every network of the batch (its weights Q are trained directly, not generated); then every
// hypernetwork parameter is P[b][i] = P0[i] + Σ_c U[i][c]·φ[b][c].
#include <cstdint>

#include <KokkosBatched_Gemm_Decl.hpp>
#include <KokkosBatched_Vector.hpp>

#include "kernels/activations.hpp"
#include "kernels/pairwise_sum.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

// Dimensions and offsets into Q of the φ MLP; weights row-major [in][out].
struct PhiLayout {
  std::int64_t h1, h2, dphi, w1, b1, w2, b2, w3, b3;
};

// The tensors packed one after another from `offset`; the end is `layout.b3 + layout.dphi`.
inline PhiLayout packed_phi_layout(std::int64_t h1, std::int64_t h2, std::int64_t dphi, std::int64_t offset = 0) {
  PhiLayout l{h1, h2, dphi, offset, 0, 0, 0, 0, 0};
  l.b1 = l.w1 + h1, l.w2 = l.b1 + h1, l.b2 = l.w2 + h1 * h2, l.w3 = l.b2 + h2, l.b3 = l.w3 + h2 * dphi;
  return l;
}

// phi: [B][dφ]; a1: [B][h1], a2: [B][h2] pre-activations saved for backward; u: [B]; Q: flat weights.
template <class E, class T>
void phi_forward(const E& exec, const V2<E, T>& phi, const V2<E, T>& a1, const V2<E, T>& a2, const V1<E, T>& u,
                 const V1<E, T>& Q, const PhiLayout layout) {
  const std::int64_t batch = u.extent(0);
  const PhiLayout L = layout;
  Kokkos::parallel_for(
      "hnet::phi_forward::layer1", Kokkos::RangePolicy<E>(exec, 0, batch * L.h1),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / L.h1, j = flat % L.h1;
        a1(b, j) = u(b) * Q(L.w1 + j) + Q(L.b1 + j);
      });
  Kokkos::parallel_for(
      "hnet::phi_forward::layer2", Kokkos::RangePolicy<E>(exec, 0, batch * L.h2),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / L.h2, j = flat % L.h2;
        T acc = Q(L.b2 + j);
        for (std::int64_t i = 0; i < L.h1; ++i) acc += swish(a1(b, i)) * Q(L.w2 + i * L.h2 + j);
        a2(b, j) = acc;
      });
  Kokkos::parallel_for(
      "hnet::phi_forward::layer3", Kokkos::RangePolicy<E>(exec, 0, batch * L.dphi),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / L.dphi, c = flat % L.dphi;
        T acc = Q(L.b3 + c);
        for (std::int64_t i = 0; i < L.h2; ++i) acc += swish(a2(b, i)) * Q(L.w3 + i * L.dphi + c);
        phi(b, c) = acc;
      });
}

namespace beta_detail {

// dJ/da2[b,j], re-formed where needed: the MLP is tiny and the signature has no scratch.
template <class V1T, class V2T>
KOKKOS_INLINE_FUNCTION typename V2T::value_type phi_da2(const V2T& dphi, const V1T& Q, const V2T& a2, const PhiLayout L,
                                                        std::int64_t b, std::int64_t j) {
  typename V2T::value_type acc = 0;
  for (std::int64_t c = 0; c < L.dphi; ++c) acc += Q(L.w3 + j * L.dphi + c) * dphi(b, c);
  return acc * swish_derivative(a2(b, j));
}

// dφ sums of one chunk of U stay in registers up to this width.
constexpr std::int64_t phi_register_dim = 32;

// The chunk partials of dφ for networks b0 … b0 + NB − 1 at dφ = D, known at compile time so that
// the sums stay in registers: partial[b][c] = Σ_i U[i][c]·dP[b][i] over the chunk's rows
// i0 … i1 − 1 in order, in double. The NB networks share each row of U converted to double;
// each network's sums are the one-network loop's, operation for operation, so how networks are
// grouped changes no bit.
template <int D, int NB, class V3D, class V2T>
KOKKOS_INLINE_FUNCTION void dphi_chunk_partials(const V3D& partials, const V2T& dP, const V2T& U, std::int64_t chunk,
                                                std::int64_t b0, std::int64_t i0, std::int64_t i1) {
  using T = typename V2T::non_const_value_type;
  double acc[NB][D] = {};
  const T* row[NB];  // the networks' rows of dP: no index arithmetic per element
  HNET_UNROLL for (int k = 0; k < NB; ++k) row[k] = &dP(b0 + k, 0);
  for (std::int64_t i = i0; i < i1; ++i) {
    const auto* const u = &U(i, 0);
    double w[D];
    HNET_UNROLL for (int c = 0; c < D; ++c) w[c] = static_cast<double>(u[c]);
    HNET_UNROLL for (int k = 0; k < NB; ++k) {
      const double g = static_cast<double>(row[k][i]);
      HNET_UNROLL for (int c = 0; c < D; ++c) acc[k][c] += w[c] * g;
    }
  }
  HNET_UNROLL for (int k = 0; k < NB; ++k)
    HNET_UNROLL for (int c = 0; c < D; ++c) partials(b0 + k, chunk, c) = acc[k][c];
}

// dU[i0 + j][c + q] += Σ_b dP[b][i0 + j]·φ[b][c + q] for j < L and q < C, the C columns' sums
// advanced by one pairwise counter (its branches then serve C times the sums; each lane's sum is
// the same for any C).
template <int C, int L, class V2T>
KOKKOS_INLINE_FUNCTION void du_column_sums(const V2T& dU, const V2T& dP, const V2T& phi, std::int64_t i0,
                                           std::int64_t batch, std::int64_t c) {
  using T = typename V2T::non_const_value_type;
  PairwiseLanes<T, C * L> sum;
  T out[C * L];
  const auto products = [&dP, &phi, i0, c](std::int64_t b, T (&w)[C * L]) {
    HNET_UNROLL for (int q = 0; q < C; ++q) {
      const T f = phi(b, c + q);
      HNET_UNROLL for (int j = 0; j < L; ++j) w[q * L + j] = dP(b, i0 + j) * f;
    }
    compat::keep_rounded(w);  // rounded products, as the counter sums them when added one at a time
  };
  sum.add_all(batch, products);
  sum.total(out);
  HNET_UNROLL for (int q = 0; q < C; ++q)
    HNET_UNROLL for (int j = 0; j < L; ++j) dU(i0 + j, c + q) += out[q * L + j];
}

// dP0[i0 + j] += Σ_b dP[b][i0 + j] and dU[i0 + j][c] += Σ_b dP[b][i0 + j]·φ[b][c] for j < L, every
// sum over the networks in the pairwise tree.
template <int L, class V1T, class V2T>
KOKKOS_INLINE_FUNCTION void p0_u_sums(const V1T& dP0, const V2T& dU, const V2T& dP, const V2T& phi, std::int64_t i0,
                                      std::int64_t batch, std::int64_t dim, bool want_p0, bool want_u) {
  using T = typename V2T::non_const_value_type;
  if (want_p0) {
    PairwiseLanes<T, L> sum;
    T out[L];
    const auto values = [&dP, i0](std::int64_t b, T (&w)[L]) {
      HNET_UNROLL for (int j = 0; j < L; ++j) w[j] = dP(b, i0 + j);
    };
    sum.add_all(batch, values);
    sum.total(out);
    HNET_UNROLL for (int j = 0; j < L; ++j) dP0(i0 + j) += out[j];
  }
  if (!want_u) return;
  std::int64_t c = 0;
  // On CPUs (L > 1) two columns of dU per counter (paper-size GenerateParametersBackward 45 → 35 ms
  // on 2 cores; 4 columns: 49 ms). A GPU thread keeps one.
  if constexpr (L > 1)
    for (; c + 1 < dim; c += 2) du_column_sums<2, L>(dU, dP, phi, i0, batch, c);
  for (; c < dim; ++c) du_column_sums<1, L>(dU, dP, phi, i0, batch, c);
}

// Networks per block of p0_u_sums_by_rows (at most): its copy of dP's rows lives on the stack.
constexpr std::int64_t rows_block_networks = 64;

#if defined(HNET_HOST_LANES)

// p0_u_sums for 16 consecutive parameters on the host, dφ = 16 and φ contiguous, at most
// rows_block_networks networks: each column's 16 sums (lane j: parameter i0 + j) as one vector,
// the pairwise tree evaluated directly (pairwise_total: the counter's bits, its partial sums in
// registers) on a copy of dP's rows, so every leaf is a load at a constant offset; then the 16
// columns transposed in registers, so dU's rows are updated a vector at a time, not an element.
template <class V1T, class V2T>
inline void p0_u_sums_by_rows(const V1T& dP0, const V2T& dU, const V2T& dP, const V2T& phi, std::int64_t i0,
                              std::int64_t batch, bool want_p0, bool want_u) {
  using T = typename V2T::non_const_value_type;
  constexpr int lanes = 16;
  typedef T V __attribute__((vector_size(lanes * sizeof(T))));
  V rows[rows_block_networks];
  // One stream of dP per network (32 at paper size), more than the hardware prefetchers follow:
  // fetched four blocks ahead by hand (paper-size kernel benchmark 17.6 → 10.5–13.9 ms).
  constexpr std::int64_t ahead = 4 * lanes;
  for (std::int64_t b = 0; b < batch; ++b) {
    __builtin_memcpy(&rows[b], &dP(b, i0), sizeof(V));
    __builtin_prefetch(&dP(b, i0) + ahead);
  }
  const V* const row = rows;
  if (want_p0) {
    V sum = pairwise_total(batch, [row](std::int64_t b) __attribute__((always_inline)) { return row[b]; }), to;
    __builtin_memcpy(&to, &dP0(i0), sizeof to);
    to += sum;
    __builtin_memcpy(&dP0(i0), &to, sizeof to);
  }
  if (!want_u) return;
  V column[lanes];
  for (int c = 0; c < lanes; ++c) {  // rolled: one copy of the tree's code, not 16
    const T* const f = phi.data() + c;
    column[c] = pairwise_total(batch, [row, f](std::int64_t b) __attribute__((always_inline)) {
      V product = row[b] * f[b * lanes];
      compat::opaque(product);  // a rounded product, as the counter adds it
      return product;
    });
  }
  compat::transpose_square(column);
  HNET_UNROLL for (int j = 0; j < lanes; ++j) {
    V to;
    __builtin_memcpy(&to, &dU(i0 + j, 0), sizeof to);
    to += column[j];
    __builtin_memcpy(&dU(i0 + j, 0), &to, sizeof to);
  }
}
#endif

}  // namespace beta_detail

// dQ += Σ_b, one work item per weight element. Sums over the networks of a step follow the
// pairwise tree of kernels/pairwise_sum.hpp, so they do not depend on how ranks split the batch.
// No gradient for u.
template <class E, class T>
void phi_backward(const E& exec, const V1<E, T>& dQ, const V2<E, T>& dphi, const V1<E, T>& u, const V1<E, T>& Q,
                  const V2<E, T>& a1, const V2<E, T>& a2, const PhiLayout layout) {
  const std::int64_t batch = u.extent(0);
  const PhiLayout L = layout;
  // Layer 3: dW3[i][c] = Σ_b swish(a2[b,i]) dφ[b,c] for i < h2; i == h2 stands for the bias.
  Kokkos::parallel_for(
      "hnet::phi_backward::layer3", Kokkos::RangePolicy<E>(exec, 0, (L.h2 + 1) * L.dphi),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t i = flat / L.dphi, c = flat % L.dphi;
        PairwiseSum<T> acc;
        for (std::int64_t b = 0; b < batch; ++b) acc.add(i < L.h2 ? swish(a2(b, i)) * dphi(b, c) : dphi(b, c));
        dQ(i < L.h2 ? L.w3 + i * L.dphi + c : L.b3 + c) += acc.total();
      });
  Kokkos::parallel_for(
      "hnet::phi_backward::layer2", Kokkos::RangePolicy<E>(exec, 0, (L.h1 + 1) * L.h2),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t i = flat / L.h2, j = flat % L.h2;
        PairwiseSum<T> acc;
        for (std::int64_t b = 0; b < batch; ++b) {
          const T g = beta_detail::phi_da2(dphi, Q, a2, L, b, j);
          acc.add(i < L.h1 ? swish(a1(b, i)) * g : g);
        }
        dQ(i < L.h1 ? L.w2 + i * L.h2 + j : L.b2 + j) += acc.total();
      });
  // Layer 1 has one input, so item j owns both W1[0][j] and b1[j].
  Kokkos::parallel_for(
      "hnet::phi_backward::layer1", Kokkos::RangePolicy<E>(exec, 0, L.h1), KOKKOS_LAMBDA(const std::int64_t j) {
        PairwiseSum<T> acc_w, acc_b;
        for (std::int64_t b = 0; b < batch; ++b) {
          T g = 0;
          for (std::int64_t o = 0; o < L.h2; ++o) g += Q(L.w2 + j * L.h2 + o) * beta_detail::phi_da2(dphi, Q, a2, L, b, o);
          g *= swish_derivative(a1(b, j));
          acc_w.add(u(b) * g);
          acc_b.add(g);
        }
        dQ(L.w1 + j) += acc_w.total();
        dQ(L.b1 + j) += acc_b.total();
      });
}

// Columns of P per team of the GPU's forward: a constant of the algorithm, never of the thread count.
constexpr std::int64_t generate_parameters_tile = 256;

// P: [B][p], P0: [p], U: [p][dφ] (row-major), phi: [B][dφ]. P = 1·P0ᵀ + φ·Uᵀ through Kokkos
// Kernels' batched GEMM, one team per tile of columns, the tile set to P0 first. On the host a
// team is one thread running the blocked SerialGemm on SIMD packs of columns (below; each element
// summed over c = 0 … dφ−1 in order, then added to P0). On a GPU, TeamGemm gives each thread whole
// dot products over dφ. Either way an element's bits depend neither on
// the thread count, nor on how many networks a rank holds, nor on the team size. The threaded
// host BLAS (KokkosBlas::gemm with the OpenBLAS TPL, used here until 2026-12-04) gave none of
// that: its split over its own threads and its kernel choice by shape changed P's bits (README,
// "Kernels").
namespace beta_detail {

// Sets the tile of P to P0, the tile's columns i0 … i1 − 1 (the team's threads split the writes).
template <class Member, class PTile, class V>
KOKKOS_INLINE_FUNCTION void set_tile_to_p0(const Member& team, const PTile& P_tile, const V& P0, std::int64_t i0) {
  const std::int64_t batch = P_tile.extent(0), width = P_tile.extent(1);
  for (std::int64_t k = team.team_rank(); k < batch * width; k += team.team_size())
    P_tile(k / width, k % width) = P0(i0 + k % width);
}

// The host's forward: SerialGemm on Kokkos Kernels' SIMD packs (Vector<SIMD<T>, lanes>, 64 bytes),
// a pack holding `lanes` consecutive columns of P. Per call of the GEMM: C = P's block of
// simd_block_packs packs × B rows (set to P0 first), A = φ with each entry broadcast to a pack
// (made once per tile), B = U's rows of the block transposed into packs. Each lane's arithmetic is
// the scalar blocked GEMM's: Σ_c φ[b][c]·U[i][c] in c order in a register, then added to P0[i].
// One team (one thread) per tile of columns: no element depends on the thread count.
constexpr std::int64_t generate_parameters_host_tile = 4096;  // columns per team: φ's packs amortised
// Packs per GEMM call: SerialGemm's inner blocks are then 4 × 1 (4 networks × one pack), which
// fit AVX2's 16 registers; 4 packs (4 × 4 blocks) spilled: paper-size forward 22.3 → 14.8 ms. Two
// packs on AVX-512 (4 × 2) were no faster (kernel benchmark, minimum of six alternating runs).
// With one pack per call no block is ever a partial one in the columns either.
constexpr std::int64_t simd_block_packs = 1;

// A pack of P's row: streamed past the cache where it can be (P is written once, far larger than
// the caches, and read back only by the layers of the forward; compat::store_streaming).
template <class T, class Pack>
constexpr bool streamed_pack = std::is_same<T, float>::value && sizeof(Pack) == 64;
template <class T, class Pack>
KOKKOS_INLINE_FUNCTION void store_pack(T* to, const Pack& pack) {
  if constexpr (streamed_pack<T, Pack>) {
    if (compat::store_streaming(to, &pack[0], 16)) return;
  }
  pack.storeUnaligned(to);
}

// packs[c·pack_stride][l] = u[l·u_row + c] for c < dim, l < the pack's lanes: `lanes` rows of U
// turned into one pack per column. On the host with 64-byte packs and dim a multiple of the lanes,
// square blocks transposed in registers (log₂(lanes) rounds of two-vector shuffles); otherwise
// element by element (a scalar store per element, then a vector load that cannot forward it).
template <class T, class Pack>
KOKKOS_INLINE_FUNCTION void transpose_rows_into_packs(const T* u, std::int64_t u_row, std::int64_t dim, Pack* packs,
                                                      std::int64_t pack_stride) {
  constexpr int lanes = static_cast<int>(sizeof(Pack) / sizeof(T));
#if defined(HNET_HOST_LANES)
  if constexpr (sizeof(Pack) == 64) {
    if (dim % lanes == 0) {
      typedef T V __attribute__((vector_size(64)));
      for (std::int64_t c0 = 0; c0 < dim; c0 += lanes) {
        V r[lanes];
        HNET_UNROLL for (int l = 0; l < lanes; ++l) __builtin_memcpy(&r[l], u + l * u_row + c0, sizeof(V));
        compat::transpose_square(r);
        HNET_UNROLL for (int c = 0; c < lanes; ++c) packs[(c0 + c) * pack_stride].loadUnaligned(&r[c][0]);
      }
      return;
    }
  }
#endif
  for (std::int64_t c = 0; c < dim; ++c)
    for (int l = 0; l < lanes; ++l) packs[c * pack_stride][l] = u[l * u_row + c];
}

template <class E, class T>
void generate_parameters_forward_simd(const E& exec, const V2<E, T>& P, const V1<E, T>& P0, const V2<E, T>& U,
                                      const V2<E, T>& phi) {
  namespace KB = KokkosBatched;
  constexpr std::int64_t lanes = 64 / sizeof(T), block = simd_block_packs * lanes;
  using Pack = KB::Vector<KB::SIMD<T>, static_cast<int>(lanes)>;
  using Gemm = KB::SerialGemm<KB::Trans::NoTranspose, KB::Trans::NoTranspose, KB::Algo::Gemm::Blocked>;
  using Policy = Kokkos::TeamPolicy<E>;
  using Packs = Kokkos::View<Pack**, Kokkos::LayoutRight, typename E::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  const std::int64_t batch = P.extent(0), p = P.extent(1), dim = U.extent(1);
  const std::int64_t tiles = (p + generate_parameters_host_tile - 1) / generate_parameters_host_tile;
  // The rows (networks) padded with zero rows of φ to whole register blocks of SerialGemm: a
  // partial block (a rank holding 1, 2 or 3 networks more than a multiple of 4) would take its
  // generic path, which adds each product to P0 in turn instead of summing in a register first,
  // and so would make P's bits depend on how ranks split the batch.
  constexpr std::int64_t block_rows = KB::Algo::Gemm::Blocked::mb<Kokkos::HostSpace>();
  const std::int64_t rows = (batch + block_rows - 1) / block_rows * block_rows;
  // The packs are carved by hand from one aligned block: a pack may be a vector type that needs
  // its own alignment (__m512d: 64 bytes), and a View's share of team scratch is aligned to 8.
  const std::int64_t phi_count = rows * dim, ut_count = dim * simd_block_packs, c_count = rows * simd_block_packs;
  const std::size_t packs_bytes = static_cast<std::size_t>(phi_count + ut_count + c_count) * sizeof(Pack);
  Kokkos::parallel_for(
      "hnet::generate_parameters_forward",
      Policy(exec, tiles, 1).set_scratch_size(0, Kokkos::PerTeam(packs_bytes + alignof(Pack))),
      KOKKOS_LAMBDA(const typename Policy::member_type& team) {
        Pack* const base = static_cast<Pack*>(team.team_scratch(0).get_shmem_aligned(packs_bytes, alignof(Pack)));
        const Packs phi_packs(base, rows, dim), Ut(base + phi_count, dim, simd_block_packs),
            C(base + phi_count + ut_count, rows, simd_block_packs);
        for (std::int64_t b = 0; b < rows; ++b)
          for (std::int64_t c = 0; c < dim; ++c) phi_packs(b, c) = Pack(b < batch ? phi(b, c) : T(0));
        const std::int64_t begin = team.league_rank() * generate_parameters_host_tile;
        const std::int64_t end = begin + generate_parameters_host_tile < p ? begin + generate_parameters_host_tile : p;
        for (std::int64_t i0 = begin; i0 < end; i0 += block) {
          const std::int64_t width = i0 + block < end ? block : end - i0, packs = (width + lanes - 1) / lanes;
          // A whole pack: vector loads and stores, and a GEMM call of its own on the full views. Folding
          // this into the general path below (one GEMM call on subviews for both) made GCC compile
          // the GEMM as it did before this branch existed: 4–5× slower on AVX-512, and with P's
          // last bits different (no FMA contraction), measured in review.
          if (width == block) {
            for (std::int64_t g = 0; g < simd_block_packs; ++g) {
              Pack p0;
              p0.loadUnaligned(&P0(i0 + g * lanes));
              transpose_rows_into_packs(&U(i0 + g * lanes, 0), U.stride_0(), dim, &Ut(0, g), Ut.stride_0());
              for (std::int64_t b = 0; b < rows; ++b) C(b, g) = p0;
            }
            Gemm::invoke(T(1), phi_packs, Ut, T(1), C);
            for (std::int64_t b = 0; b < batch; ++b)
              for (std::int64_t g = 0; g < simd_block_packs; ++g) store_pack(&P(b, i0 + g * lanes), C(b, g));
            continue;
          }
          for (std::int64_t g = 0; g < packs; ++g) {
            Pack p0;  // lanes past the end compute zeros
            for (std::int64_t l = 0; l < lanes; ++l) {
              const std::int64_t k = g * lanes + l;
              p0[l] = k < width ? P0(i0 + k) : T(0);
              for (std::int64_t c = 0; c < dim; ++c) Ut(c, g)[l] = k < width ? U(i0 + k, c) : T(0);
            }
            for (std::int64_t b = 0; b < rows; ++b) C(b, g) = p0;
          }
          const auto in_block = Kokkos::make_pair(std::int64_t(0), packs);
          Gemm::invoke(T(1), phi_packs, Kokkos::subview(Ut, Kokkos::ALL, in_block), T(1),
                       Kokkos::subview(C, Kokkos::ALL, in_block));
          for (std::int64_t b = 0; b < batch; ++b)
            for (std::int64_t g = 0; g < packs; ++g) {
              T* row = &P(b, i0 + g * lanes);
              const std::int64_t valid = width - g * lanes < lanes ? width - g * lanes : lanes;
              for (std::int64_t l = 0; l < valid; ++l) row[l] = C(b, g)[l];
            }
        }
        compat::stream_fence();
      });
}

// The GPU's forward: TeamGemm, each thread whole dot products over dφ.
template <class E, class T>
void generate_parameters_forward_team(const E& exec, const V2<E, T>& P, const V1<E, T>& P0, const V2<E, T>& U,
                                      const V2<E, T>& phi) {
  namespace KB = KokkosBatched;
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  using Gemm = KB::TeamGemm<Member, KB::Trans::NoTranspose, KB::Trans::Transpose, KB::Algo::Gemm::Unblocked>;
  const std::int64_t p = P.extent(1);
  const std::int64_t tiles = (p + generate_parameters_tile - 1) / generate_parameters_tile;
  Kokkos::parallel_for(
      "hnet::generate_parameters_forward", Policy(exec, tiles, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t i0 = team.league_rank() * generate_parameters_tile;
        const std::int64_t i1 = i0 + generate_parameters_tile < p ? i0 + generate_parameters_tile : p;
        const auto columns = Kokkos::make_pair(i0, i1);
        const auto P_tile = Kokkos::subview(P, Kokkos::ALL, columns);
        set_tile_to_p0(team, P_tile, P0, i0);
        team.team_barrier();
        Gemm::invoke(team, T(1), phi, Kokkos::subview(U, columns, Kokkos::ALL), T(1), P_tile);
      });
}

}  // namespace beta_detail

template <class E, class T>
void generate_parameters_forward(const E& exec, const V2<E, T>& P, const V1<E, T>& P0, const V2<E, T>& U,
                                 const V2<E, T>& phi) {
  if constexpr (on_host<E>)
    beta_detail::generate_parameters_forward_simd(exec, P, P0, U, phi);
  else
    beta_detail::generate_parameters_forward_team(exec, P, P0, U, phi);
}

// Rows of U per partial sum of dφ. A constant of the algorithm, never of the thread count, so the
// reduction tree (and with it every bit of dφ) is the same on every backend.
constexpr std::int64_t generate_parameters_chunk = 1024;
// The chunks of p parameters: dφ's workspace is [B][chunks][dφ] doubles.
constexpr std::int64_t generate_parameters_chunks(std::int64_t p) {
  return (p + generate_parameters_chunk - 1) / generate_parameters_chunk;
}

// dP0[i] += Σ_b dP[b][i]; dU[i][c] += Σ_b dP[b][i]·φ[b][c]; dφ[b][c] += Σ_i U[i][c]·dP[b][i]
// (any of the three may be absent; dphi_partials, [B][generate_parameters_chunks(p)][dφ], is
// workspace for dφ and may be absent with it).
template <class E, class T>
void generate_parameters_backward(const E& exec, const V1<E, T>& dP0, const V2<E, T>& dU, const V2<E, T>& dphi,
                                  const V2<E, T>& dP, const V2<E, T>& U, const V2<E, T>& phi,
                                  const V3<E, double>& dphi_partials) {
  const std::int64_t batch = dP.extent(0), p = dP.extent(1), dim = U.extent(1);
  if (present(dP0) || present(dU)) {
    // One work item per block of `lanes` consecutive parameters: on CPUs the lanes are one vector,
    // and the block of dU it owns ([lanes][dφ]) is contiguous.
    constexpr int lanes = vector_lanes<E>();
    const bool want_p0 = present(dP0), want_u = present(dU);
    const std::int64_t blocks = (p + lanes - 1) / lanes;
    const bool by_rows = dim == 16 && batch <= beta_detail::rows_block_networks && phi.stride_0() == 16 &&
                         phi.stride_1() == 1;
    (void)by_rows;  // host lanes only
    Kokkos::parallel_for(
        "hnet::generate_parameters_backward::P0_U", Kokkos::RangePolicy<E>(exec, 0, blocks),
        KOKKOS_LAMBDA(const std::int64_t block) {
          const std::int64_t i0 = block * lanes;
          if (i0 + lanes > p) {  // the ragged last block, one parameter at a time
            for (std::int64_t i = i0; i < p; ++i) beta_detail::p0_u_sums<1>(dP0, dU, dP, phi, i, batch, dim, want_p0, want_u);
            return;
          }
#if defined(HNET_HOST_LANES)
          if constexpr (lanes == 16) {
            if (by_rows) return beta_detail::p0_u_sums_by_rows(dP0, dU, dP, phi, i0, batch, want_p0, want_u);
          }
#endif
          beta_detail::p0_u_sums<lanes>(dP0, dU, dP, phi, i0, batch, dim, want_p0, want_u);
        });
  }
  if (!present(dphi)) return;

  // Partial sums per (chunk of U's rows, network), then each network's partials added in chunk
  // order. Work items run chunk-major, so the networks of one chunk follow each other on a thread
  // and the chunk of U (64 KiB at dφ = 16) is read from memory once, not once per network. A
  // chunk's sums run over its rows in order, in registers at dφ = 16 (the usual case; 8 networks
  // per host work item, 16 vectors of sums in flight: paper-size backward 59 → 39 ms on 2 cores
  // with 2 networks, 27.2 → 20.8 ms from 2 to 8); at other widths ≤ 32 in a local array.
  const std::int64_t chunks = generate_parameters_chunks(p);
  if (dim == 16) {  // the usual width: the sums in registers, eight networks of a chunk per host work item
    constexpr int networks = on_host<E> ? 8 : 1;
    const std::int64_t groups = (batch + networks - 1) / networks;
    Kokkos::parallel_for(
        "hnet::generate_parameters_backward::phi", Kokkos::RangePolicy<E>(exec, 0, chunks * groups),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t chunk = flat / groups, b0 = flat % groups * networks;
          const std::int64_t i0 = chunk * generate_parameters_chunk;
          const std::int64_t i1 = i0 + generate_parameters_chunk < p ? i0 + generate_parameters_chunk : p;
          if (b0 + networks <= batch)
            return beta_detail::dphi_chunk_partials<16, networks>(dphi_partials, dP, U, chunk, b0, i0, i1);
          for (std::int64_t b = b0; b < batch; ++b)  // the last group's networks one at a time
            beta_detail::dphi_chunk_partials<16, 1>(dphi_partials, dP, U, chunk, b, i0, i1);
        });
  } else {
    Kokkos::parallel_for(
        "hnet::generate_parameters_backward::phi", Kokkos::RangePolicy<E>(exec, 0, chunks * batch),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t chunk = flat / batch, b = flat % batch;
          const std::int64_t i0 = chunk * generate_parameters_chunk;
          const std::int64_t i1 = i0 + generate_parameters_chunk < p ? i0 + generate_parameters_chunk : p;
          double* partial = &dphi_partials(b, chunk, 0);
          if (dim <= beta_detail::phi_register_dim) {
            double acc[beta_detail::phi_register_dim] = {};
            for (std::int64_t i = i0; i < i1; ++i) {
              const double g = dP(b, i);
              const T* u = &U(i, 0);
              for (std::int64_t c = 0; c < dim; ++c) acc[c] += static_cast<double>(u[c]) * g;
            }
            for (std::int64_t c = 0; c < dim; ++c) partial[c] = acc[c];
          } else {
            for (std::int64_t c = 0; c < dim; ++c) partial[c] = 0;
            for (std::int64_t i = i0; i < i1; ++i) {
              const double g = dP(b, i);
              for (std::int64_t c = 0; c < dim; ++c) partial[c] += static_cast<double>(U(i, c)) * g;
            }
          }
        });
  }
  Kokkos::parallel_for(
      "hnet::generate_parameters_backward::phi_sum", Kokkos::RangePolicy<E>(exec, 0, batch * dim),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / dim, c = flat % dim;
        double sum = 0;
        for (std::int64_t chunk = 0; chunk < chunks; ++chunk) sum += dphi_partials(b, chunk, c);
        dphi(b, c) += static_cast<T>(sum);
      });
}

}  // namespace hnet::kernels
