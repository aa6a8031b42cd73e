#pragma once
// Edge-aware graph attention (model.md §5.1 step 2), the part between the projections. By
// linearity of A_k, the key of node v's incidence a (edge e, other end u, direction δ) is
//   key_a = kx[u] + ky[e] + kd[δ]   (kx = x A_k on nodes, ky = y A_k on edges, kd = D A_k + c_k),
// and likewise val_a = vx[u] + vy[e] + vd[δ], so the projections run as plain linear layers on N
// nodes and E edges instead of on 2E incidences. Per head h (channels h·dh .. h·dh + dh − 1):
//   score_a = q[v]·key_a / √dh,  α = softmax over v's incidences,  out[v] = Σ_a α_a val_a.
// Backward gathers through the incidence lists (the mirror of an incidence is the same edge seen
// from its other end), so every gradient element has one owner and no atomics are needed.
//
// Layout: the key and value terms (kx, ky, kd, vx, vy, vd) arrive head-interleaved: channel i of
// head h at column i·H + h (interleaved_column), so the H heads of one channel sit side by side and
// the host adds four heads in one vector operation without transposing every incidence's rows. The
// projections write them so by reading their weight columns in that order
// (interleave_head_columns): each element is the same dot product, so the same bits. q, out, dout
// and every gradient, the key and value terms' included, keep the usual column h·dh + i.
#include <cstdint>
#include <type_traits>

#include "kernels/activations.hpp"
#include "kernels/compat.hpp"
#include "kernels/graph_views.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

// The queries and the node, edge and direction terms of the keys and values (q, kx, vx: [B][N][d];
// ky, vy: [B][E][d]; kd, vd: [B][2][d], row = Direction), or their gradients. As inputs, every
// term but q is head-interleaved (above); as gradients, none is.
template <class E, class T>
struct AttentionTerms {
  V3<E, T> q, kx, vx, ky, vy, kd, vd;
};

// Where channel c = h·dh + i of a key or value term sits in the head-interleaved layout: i·H + h.
KOKKOS_FORCEINLINE_FUNCTION std::int64_t interleaved_column(std::int64_t c, std::int64_t heads, std::int64_t dh) {
  return (c % dh) * heads + c / dh;
}

// A projection's weights W ([rows][cols] at src's w) and bias ([cols] at src's b) with their
// output columns in the head-interleaved order, as one [rows + 1][cols] block at dst's dst_off (the
// bias its last row), so that x·W + bias comes out head-interleaved.
template <class E, class T>
void interleave_head_columns(const E& exec, const V2<E, T>& dst, std::int64_t dst_off, const V2<E, T>& src,
                             std::int64_t w, std::int64_t bias, std::int64_t rows, std::int64_t cols, int heads) {
  const std::int64_t batch = src.extent(0), dh = cols / heads;
  // A row per work item: a tiny copy, whose cost would be the index arithmetic if it were flat.
  Kokkos::parallel_for(
      "hnet::attention_interleave_weights", Kokkos::RangePolicy<E>(exec, 0, batch * (rows + 1)),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (rows + 1), r = flat % (rows + 1);
        const T* from = &src(b, r < rows ? w + r * cols : bias);
        T* to = &dst(b, dst_off + r * cols);
        for (std::int64_t h = 0; h < heads; ++h)
          for (std::int64_t i = 0; i < dh; ++i) to[i * heads + h] = from[h * dh + i];
      });
}

namespace attention_detail {
// Σ_c q[c] · (x[c·s] + y[c·s] + z[c·s]) over one head's n channels (s: the terms' stride, H in the
// head-interleaved layout), in order, each product rounded before it is added. On the host the
// rounding is enforced (compat::keep_rounded): left to itself GCC vectorises the products of a
// long enough loop and adds them in order, but fuses them into the sum (FMA) in a short loop and in
// a loop's tail, so the bits would depend on n and on the compiler's choices, and the vector path
// of the host's schedule (by_lanes) could not match them. Device compilers fuse as they like (one
// schedule runs there).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T head_dot(const T* q, const T* x, const T* y, const T* z, std::int64_t n,
                                       std::int64_t stride) {
  T s = 0;
  for (std::int64_t c = 0; c < n; ++c) {
    T product[1] = {q[c] * (x[c * stride] + y[c * stride] + z[c * stride])};
    compat::keep_rounded(product);
    s += product[0];
  }
  return s;
}
// out[c] += w · (x[c·s] + y[c·s] + z[c·s]) over one head's n channels.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void head_axpy(T* out, T w, const T* x, const T* y, const T* z, std::int64_t n,
                                           std::int64_t stride) {
  for (std::int64_t c = 0; c < n; ++c) out[c] += w * (x[c * stride] + y[c * stride] + z[c * stride]);
}
}  // namespace attention_detail

// Who does the work of one (network, node). thread_per_node: one thread walks every incidence and
// head (CPUs: the node's rows stay in cache and a thread has enough work). team_per_node: a team
// spreads the incidences × heads, then the channels, over its threads (GPUs: a thread per node is a
// few hundred long serial walks, far too few threads). Every element is computed with the same
// operations in the same order either way.
enum class AttentionSchedule { thread_per_node, team_per_node };
template <class E>
constexpr AttentionSchedule default_attention_schedule =
    on_host<E> ? AttentionSchedule::thread_per_node : AttentionSchedule::team_per_node;

namespace attention_detail {
// alpha(b, a0 .. a1 − 1, h): raw scores in, softmax weights out.
template <class A>
KOKKOS_FORCEINLINE_FUNCTION void softmax_in_place(const A& alpha, std::int64_t b, std::int64_t a0, std::int64_t a1,
                                                  int h) {
  using T = typename A::value_type;
  T top = alpha(b, a0, h);
  for (std::int64_t a = a0 + 1; a < a1; ++a) top = alpha(b, a, h) > top ? alpha(b, a, h) : top;
  double sum = 0;
  for (std::int64_t a = a0; a < a1; ++a) {
    const T w = exp_neg_abs(alpha(b, a, h) - top);  // the argument is ≤ 0
    alpha(b, a, h) = w;
    sum += static_cast<double>(w);
  }
  const T inv_sum = static_cast<T>(1.0 / sum);
  for (std::int64_t a = a0; a < a1; ++a) alpha(b, a, h) *= inv_sum;
}

// dscore(b, a0 .. a1 − 1, h): dJ/dα in, dJ/dscore = α (dα − Σ α dα) out.
template <class A>
KOKKOS_FORCEINLINE_FUNCTION void softmax_backward_in_place(const A& dscore, const A& alpha, std::int64_t b,
                                                           std::int64_t a0, std::int64_t a1, int h) {
  using T = typename A::value_type;
  double mean = 0;
  for (std::int64_t a = a0; a < a1; ++a) mean += static_cast<double>(alpha(b, a, h)) * static_cast<double>(dscore(b, a, h));
  for (std::int64_t a = a0; a < a1; ++a)
    dscore(b, a, h) = static_cast<T>(static_cast<double>(alpha(b, a, h)) * (static_cast<double>(dscore(b, a, h)) - mean));
}

// dst(b, a, h) = factor · Σ_i row[h·dh + i]·(x[u] + y[e] + z[δ])[i·H + h] over head h's channels,
// for the items k = first, first + step, … of node v's incidences × heads (k = (a − a0)·heads + h):
// the scores of the forward (row = q[v]) and dJ/dα of the backward (row = dout[v]), one thread's
// share of them (the team schedule) or all (the thread schedule off the vector path).
template <class A, class I>
KOKKOS_FORCEINLINE_FUNCTION void incidence_head_dots(const A& dst, const typename A::value_type* row, const A& x,
                                                     const A& y, const A& z, const I& other, const I& edge,
                                                     const I& direction, std::int64_t b, std::int64_t a0,
                                                     std::int64_t a1, int heads, std::int64_t dh,
                                                     typename A::value_type factor, std::int64_t first,
                                                     std::int64_t step) {
  for (std::int64_t k = first; k < (a1 - a0) * heads; k += step) {
    const std::int64_t a = a0 + k / heads, h = k % heads;
    dst(b, a, h) =
        head_dot(row + h * dh, &x(b, other(a), h), &y(b, edge(a), h), &z(b, direction(a), h), dh, heads) * factor;
  }
}

// out[h·dh + i] (+)= Σ_a w(b, a, h)·scale · (x[u] + y[e] + z[δ])[i·H + h] over node v's incidences
// (scale = 1: the forward's values weighted by α; the backward's dq from dJ/dscore and the keys):
// the thread schedule off the vector path. Each element adds its terms in incidence order.
template <class A, class I>
KOKKOS_FORCEINLINE_FUNCTION void weighted_rows(typename A::value_type* out, const A& w, typename A::value_type scale,
                                               const A& x, const A& y, const A& z, const I& other, const I& edge,
                                               const I& direction, std::int64_t b, std::int64_t a0, std::int64_t a1,
                                               int heads, std::int64_t dh) {
  for (std::int64_t a = a0; a < a1; ++a) {
    const auto* xu = &x(b, other(a), 0);
    const auto* ye = &y(b, edge(a), 0);
    const auto* zd = &z(b, direction(a), 0);
    for (int h = 0; h < heads; ++h) head_axpy(out + h * dh, w(b, a, h) * scale, xu + h, ye + h, zd + h, dh, heads);
  }
}

#if defined(HNET_HOST_LANES)
// The host's vector path of the thread schedule: four heads (H = 4, dh a multiple of 4, floats).
// A Chunk holds four channels of the four heads, 16 consecutive columns of a head-interleaved row;
// a Heads holds one value per head (alpha's and dscore's rows). Each lane does the operations of
// the scalar path in its order, so the bits are the same (a test compares them with the team
// schedule's).
namespace by_lanes {
typedef float Heads __attribute__((vector_size(16)));
typedef float Chunk __attribute__((vector_size(64)));
typedef double HeadSums __attribute__((vector_size(32)));
// L floats as one vector (spelled per width: GCC drops vector_size from a typedef that depends on a
// template parameter when it deduces template arguments from it).
template <int L> struct FloatLanes;
template <> struct FloatLanes<4> { typedef float type __attribute__((vector_size(16))); };
template <> struct FloatLanes<8> { typedef float type __attribute__((vector_size(32))); };
template <> struct FloatLanes<16> { typedef float type __attribute__((vector_size(64))); };

// a·b + c, rounded once where the target has FMA and twice where it has not, as GCC compiles the
// scalar loops' x += w·y: the vector paths must give their bits, and GCC contracts a vector
// expression into an FMA for some widths and not for others (16 floats yes, 8 and 4 no).
template <class V>
inline __attribute__((always_inline)) V multiply_add(const V& a, const V& b, const V& c) {
#if defined(__FMA__)
  if constexpr (sizeof(V) == 16) {
    return (V)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c);
  } else if constexpr (sizeof(V) == 32) {
    return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
  } else {
    static_assert(sizeof(V) == 64, "4, 8 or 16 floats");
#if defined(__AVX512F__)
    return (V)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#else
    typedef typename FloatLanes<8>::type Half;
    Half h[3][2];
    __builtin_memcpy(h[0], &a, sizeof a), __builtin_memcpy(h[1], &b, sizeof b), __builtin_memcpy(h[2], &c, sizeof c);
    V r;
    const Half lo = multiply_add(h[0][0], h[1][0], h[2][0]), hi = multiply_add(h[0][1], h[1][1], h[2][1]);
    __builtin_memcpy(&r, &lo, sizeof lo), __builtin_memcpy(reinterpret_cast<char*>(&r) + sizeof lo, &hi, sizeof hi);
    return r;
#endif
  }
#else
  return a * b + c;
#endif
}

template <class V>
inline __attribute__((always_inline)) V load(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
inline __attribute__((always_inline)) void store(float* p, const V& v) {
  __builtin_memcpy(p, &v, sizeof v);
}
// Channel j of a chunk: its four heads.
inline __attribute__((always_inline)) Heads part(const Chunk& v, int j) {
  Heads r;
  __builtin_memcpy(&r, reinterpret_cast<const char*>(&v) + j * sizeof(Heads), sizeof r);
  return r;
}
// The four heads' values in each of a chunk's four channels, in one shuffle. GCC itself builds
// such a vector through the stack (four stores, then a load that cannot be forwarded), whether from
// an initializer list or a __builtin_shuffle, and its _mm512_broadcast_f32x4 draws a warning.
inline __attribute__((always_inline)) Chunk repeat(Heads a) {
#if defined(__AVX512F__)
  Chunk r;
  asm("vshuff32x4 $0, %g1, %g1, %0" : "=v"(r) : "v"(a));  // %g: the zmm register holding a
  return r;
#else
  return Chunk{a[0], a[1], a[2], a[3], a[0], a[1], a[2], a[3], a[0], a[1], a[2], a[3], a[0], a[1], a[2], a[3]};
#endif
}
// Channels i .. i + 3 of the four heads of a row in the usual layout (column h·dh + i), as a chunk.
inline __attribute__((always_inline)) Chunk gather_chunk(const float* row, std::int64_t i, std::int64_t dh) {
  Heads c[4] = {load<Heads>(row + i), load<Heads>(row + dh + i), load<Heads>(row + 2 * dh + i),
                load<Heads>(row + 3 * dh + i)};
  compat::transpose_square(c);
  return load<Chunk>(reinterpret_cast<const float*>(c));
}
// The inverse: a chunk written back to channels i .. i + 3 of the four heads of a usual row.
inline __attribute__((always_inline)) void scatter_chunk(float* row, std::int64_t i, std::int64_t dh, const Chunk& r) {
  Heads c[4] = {part(r, 0), part(r, 1), part(r, 2), part(r, 3)};
  compat::transpose_square(c);
  store(row + i, c[0]), store(row + dh + i, c[1]), store(row + 2 * dh + i, c[2]), store(row + 3 * dh + i, c[3]);
}

// The edge term's row of incidence a (when a < a1) on its way into the cache: the edge terms are
// the large ones (E rows per network against N), and a node's incidences reach them in no order a
// hardware prefetcher follows.
template <class A, class I>
inline __attribute__((always_inline)) void prefetch_row(const A& y, std::int64_t b, const I& edge, std::int64_t a,
                                                        std::int64_t a1, std::int64_t dh) {
  if (a >= a1) return;
  const char* row = reinterpret_cast<const char*>(&y(b, edge(a), 0));
  for (std::int64_t at = 0; at < 4 * dh * static_cast<std::int64_t>(sizeof(float)); at += 64) __builtin_prefetch(row + at);
}

// head_dots for rows of NC chunks (d = 16·NC): an incidence at a time, its rows' addresses formed
// once and the node's row held in registers.
template <int NC, class A, class I>
inline __attribute__((always_inline)) void head_dots_by_incidence(const A& dst, const float* row, const A& x,
                                                                  const A& y, const A& z, const I& other,
                                                                  const I& edge, const I& direction, std::int64_t b,
                                                                  std::int64_t a0, std::int64_t a1, std::int64_t dh,
                                                                  float factor) {
  Chunk r[NC];
#pragma GCC unroll 8
  for (int k = 0; k < NC; ++k) r[k] = gather_chunk(row, 4 * k, dh);
  for (std::int64_t a = a0; a < a1; ++a) {
    prefetch_row(y, b, edge, a + 4, a1, dh);
    const float *xr = &x(b, other(a), 0), *yr = &y(b, edge(a), 0), *zr = &z(b, direction(a), 0);
    Heads s{};
#pragma GCC unroll 8
    for (int k = 0; k < NC; ++k) {
      Chunk p = r[k] * (load<Chunk>(xr + 16 * k) + load<Chunk>(yr + 16 * k) + load<Chunk>(zr + 16 * k));
      compat::opaque(p);
      s += part(p, 0), s += part(p, 1), s += part(p, 2), s += part(p, 3);
    }
    store(&dst(b, a, 0), s * factor);
  }
}

// dst(b, a, 0..3) = factor · Σ_i row[h·dh + i]·(x[u] + y[e] + z[δ])[i·4 + h]: incidence_head_dots
// for every incidence and head. Rows of 32 or 64 channels go an incidence at a time; others a
// chunk (four channels) at a time, a chunk's partial sums waiting in dst (a float stored and
// reloaded is exact). Either way the same operations per lane in the same order.
template <class A, class I>
inline __attribute__((always_inline)) void head_dots(const A& dst, const float* row, const A& x, const A& y,
                                                     const A& z, const I& other, const I& edge, const I& direction,
                                                     std::int64_t b, std::int64_t a0, std::int64_t a1, std::int64_t dh,
                                                     float factor) {
  const std::int64_t d = 4 * dh;
  if (d == 64) return head_dots_by_incidence<4>(dst, row, x, y, z, other, edge, direction, b, a0, a1, dh, factor);
  if (d == 32) return head_dots_by_incidence<2>(dst, row, x, y, z, other, edge, direction, b, a0, a1, dh, factor);
  for (std::int64_t k = 0; k < d; k += 16) {
    const Chunk r = gather_chunk(row, k / 4, dh);
    for (std::int64_t a = a0; a < a1; ++a) {
      if (k == 0) prefetch_row(y, b, edge, a + 4, a1, dh);
      Chunk p = r * (load<Chunk>(&x(b, other(a), k)) + load<Chunk>(&y(b, edge(a), k)) +
                     load<Chunk>(&z(b, direction(a), k)));
      compat::opaque(p);
      Heads s = k > 0 ? load<Heads>(&dst(b, a, 0)) : Heads{};
      s += part(p, 0), s += part(p, 1), s += part(p, 2), s += part(p, 3);
      if (k + 16 == d) s *= factor;
      store(&dst(b, a, 0), s);
    }
  }
}

// weighted_rows for rows of NC chunks (d = 16·NC): an incidence at a time, the sums in registers.
template <int NC, class A, class I>
inline __attribute__((always_inline)) void weighted_rows_by_incidence(float* out, bool from_zero, const A& w,
                                                                      float scale, const A& x, const A& y, const A& z,
                                                                      const I& other, const I& edge,
                                                                      const I& direction, std::int64_t b,
                                                                      std::int64_t a0, std::int64_t a1,
                                                                      std::int64_t dh) {
  Chunk sum[NC];
#pragma GCC unroll 8
  for (int k = 0; k < NC; ++k) sum[k] = from_zero ? Chunk{} : gather_chunk(out, 4 * k, dh);
  for (std::int64_t a = a0; a < a1; ++a) {
    prefetch_row(y, b, edge, a + 4, a1, dh);
    const float *xr = &x(b, other(a), 0), *yr = &y(b, edge(a), 0), *zr = &z(b, direction(a), 0);
    const Chunk weight = repeat(load<Heads>(&w(b, a, 0)) * scale);
#pragma GCC unroll 8
    for (int k = 0; k < NC; ++k)
      sum[k] = multiply_add(weight, load<Chunk>(xr + 16 * k) + load<Chunk>(yr + 16 * k) + load<Chunk>(zr + 16 * k),
                            sum[k]);
  }
#pragma GCC unroll 8
  for (int k = 0; k < NC; ++k) scatter_chunk(out, 4 * k, dh, sum[k]);
}

// out = (zero or out) + Σ_a w(b, a, ·)·scale · (x[u] + y[e] + z[δ]): weighted_rows with the sums
// in registers, an incidence at a time for rows of 32 or 64 channels, else a chunk at a time; out
// is a row in the usual layout.
template <class A, class I>
inline __attribute__((always_inline)) void weighted_rows(float* out, bool from_zero, const A& w, float scale,
                                                         const A& x, const A& y, const A& z, const I& other,
                                                         const I& edge, const I& direction, std::int64_t b,
                                                         std::int64_t a0, std::int64_t a1, std::int64_t dh) {
  if (dh == 16)
    return weighted_rows_by_incidence<4>(out, from_zero, w, scale, x, y, z, other, edge, direction, b, a0, a1, dh);
  if (dh == 8)
    return weighted_rows_by_incidence<2>(out, from_zero, w, scale, x, y, z, other, edge, direction, b, a0, a1, dh);
  for (std::int64_t k = 0; k < 4 * dh; k += 16) {
    Chunk sum = from_zero ? Chunk{} : gather_chunk(out, k / 4, dh);
    for (std::int64_t a = a0; a < a1; ++a) {
      if (k == 0) prefetch_row(y, b, edge, a + 4, a1, dh);
      const Chunk weight = repeat(load<Heads>(&w(b, a, 0)) * scale);
      sum = multiply_add(weight,
                         load<Chunk>(&x(b, other(a), k)) + load<Chunk>(&y(b, edge(a), k)) +
                             load<Chunk>(&z(b, direction(a), k)),
                         sum);
    }
    scatter_chunk(out, k / 4, dh, sum);
  }
}

// softmax_in_place for the four heads at once.
template <class A>
inline __attribute__((always_inline)) void softmax(const A& alpha, std::int64_t b, std::int64_t a0, std::int64_t a1) {
  Heads top = load<Heads>(&alpha(b, a0, 0));
  for (std::int64_t a = a0 + 1; a < a1; ++a) {
    const Heads s = load<Heads>(&alpha(b, a, 0));
    top = s > top ? s : top;
  }
  HeadSums sum{};
  for (std::int64_t a = a0; a < a1; ++a) {
    const Heads w = lanes::exp_neg_abs(load<Heads>(&alpha(b, a, 0)) - top);
    store(&alpha(b, a, 0), w);
    sum += __builtin_convertvector(w, HeadSums);
  }
  const Heads inv_sum = __builtin_convertvector(1.0 / sum, Heads);
  for (std::int64_t a = a0; a < a1; ++a) store(&alpha(b, a, 0), load<Heads>(&alpha(b, a, 0)) * inv_sum);
}

// softmax_backward_in_place for the four heads at once.
template <class A>
inline __attribute__((always_inline)) void softmax_backward(const A& dscore, const A& alpha, std::int64_t b,
                                                            std::int64_t a0, std::int64_t a1) {
  HeadSums mean{};
  for (std::int64_t a = a0; a < a1; ++a)
    mean += __builtin_convertvector(load<Heads>(&alpha(b, a, 0)), HeadSums) *
            __builtin_convertvector(load<Heads>(&dscore(b, a, 0)), HeadSums);
  for (std::int64_t a = a0; a < a1; ++a) {
    const HeadSums g = __builtin_convertvector(load<Heads>(&alpha(b, a, 0)), HeadSums) *
                       (__builtin_convertvector(load<Heads>(&dscore(b, a, 0)), HeadSums) - mean);
    store(&dscore(b, a, 0), __builtin_convertvector(g, Heads));
  }
}

// out[c0 .. c0 + n) += Σ_a weight(b, mirror(a), h)·factor · rows(b, other(a), c0 ..) over node u's
// incidences a0 .. a1 − 1 (the nodes' key and value gradients), L channels at a time with the sums
// in a register; each element adds its terms in incidence order with the scalar loop's operations,
// which keeps its sums in memory (the compiler cannot hold them in a register: out might alias rows).
template <int L, class A, class I>
inline __attribute__((always_inline)) void mirrored_sums(float* out, const A& weight, float factor, const A& rows,
                                                         const I& mirror, const I& other, std::int64_t b, std::int64_t h,
                                                         std::int64_t a0, std::int64_t a1, std::int64_t c0,
                                                         std::int64_t n) {
  typedef typename FloatLanes<L>::type Lanes;
  for (std::int64_t c = c0; c < c0 + n; c += L) {
    Lanes sum = load<Lanes>(out + c);
    for (std::int64_t a = a0; a < a1; ++a)
      sum = multiply_add(Lanes{} + weight(b, mirror(a), h) * factor, load<Lanes>(&rows(b, other(a), c)), sum);
    store(out + c, sum);
  }
}

// mirrored_sums in vectors of `lanes` floats (16, 8 or 4: mirrored_sum_lanes).
template <class A, class I>
inline __attribute__((always_inline)) void mirrored_sums_by_width(int lanes, float* out, const A& weight, float factor,
                                                                  const A& rows, const I& mirror, const I& other,
                                                                  std::int64_t b, std::int64_t h, std::int64_t a0,
                                                                  std::int64_t a1, std::int64_t c0, std::int64_t n) {
  if (lanes == 16) mirrored_sums<16>(out, weight, factor, rows, mirror, other, b, h, a0, a1, c0, n);
  else if (lanes == 8) mirrored_sums<8>(out, weight, factor, rows, mirror, other, b, h, a0, a1, c0, n);
  else mirrored_sums<4>(out, weight, factor, rows, mirror, other, b, h, a0, a1, c0, n);
}
}  // namespace by_lanes
#endif

// Floats: what the host's vector paths take (the gradient checks' doubles run the scalar loops).
template <class T>
constexpr bool float_lanes = std::is_same<T, float>::value;

// The vector width of mirrored_sums for a head width dh on this host (16, 8 or 4 floats), or 0:
// the scalar loop.
template <class T>
int mirrored_sum_lanes(std::int64_t dh) {
#if defined(HNET_HOST_LANES)
  if (!float_lanes<T>) return 0;
  for (const int lanes : {16, 8, 4})
    if (dh % lanes == 0 && lanes * static_cast<int>(sizeof(float)) <= compat::host_vector_bytes) return lanes;
#endif
  (void)dh;
  return 0;
}

// Whether the thread schedule takes the vector path: on the host, floats, four heads of a width
// that is a multiple of 4 (every shipped deck). Other shapes run the scalar loops.
template <class T>
bool by_lanes_fits(int heads, std::int64_t dh) {
#if defined(HNET_HOST_LANES)
  return float_lanes<T> && heads == 4 && dh % 4 == 0;
#else
  (void)heads, (void)dh;
  return false;
#endif
}

template <class E, class T>
void forward_per_thread(const E& exec, const V3<E, T>& out, const V3<E, T>& alpha, const AttentionTerms<E, T>& in,
                        const GraphViews<typename E::memory_space>& graph, const int heads) {
  const auto q = in.q, kx = in.kx, vx = in.vx, ky = in.ky, vy = in.vy, kd = in.kd, vd = in.vd;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction;
  const bool vector_path = by_lanes_fits<T>(heads, dh);
  // Every head in one pass over the incidences: the rows of keys and values are read once each.
  Kokkos::parallel_for(
      "hnet::attention_forward", Kokkos::RangePolicy<E>(exec, 0, batch * nodes), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / nodes, v = flat % nodes, a0 = offset(v), a1 = offset(v + 1);
#if defined(HNET_HOST_LANES)
        if constexpr (attention_detail::float_lanes<T>)
          if (vector_path) {
            by_lanes::head_dots(alpha, &q(b, v, 0), kx, ky, kd, other, edge, direction, b, a0, a1, dh, scale);
            by_lanes::softmax(alpha, b, a0, a1);
            by_lanes::weighted_rows(&out(b, v, 0), true, alpha, 1.0f, vx, vy, vd, other, edge, direction, b, a0, a1, dh);
            return;
          }
#endif
        (void)vector_path;
        incidence_head_dots(alpha, &q(b, v, 0), kx, ky, kd, other, edge, direction, b, a0, a1, heads, dh, scale, 0, 1);
        for (int h = 0; h < heads; ++h) softmax_in_place(alpha, b, a0, a1, h);
        T* outv = &out(b, v, 0);
        for (std::int64_t c = 0; c < d; ++c) outv[c] = 0;
        weighted_rows(outv, alpha, T(1), vx, vy, vd, other, edge, direction, b, a0, a1, heads, dh);
      });
}

template <class E, class T>
void forward_per_team(const E& exec, const V3<E, T>& out, const V3<E, T>& alpha, const AttentionTerms<E, T>& in,
                      const GraphViews<typename E::memory_space>& graph, const int heads) {
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const auto q = in.q, kx = in.kx, vx = in.vx, ky = in.ky, vy = in.vy, kd = in.kd, vd = in.vd;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction;
  Kokkos::parallel_for(
      "hnet::attention_forward", Policy(exec, batch * nodes, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank() / nodes, v = team.league_rank() % nodes;
        const std::int64_t a0 = offset(v), a1 = offset(v + 1);
        // Plain strided loops over the team's threads (nested TeamThreadRange lambdas would need
        // hand-written captures): scores by (incidence, head), softmax by head, output by channel.
        const std::int64_t rank = team.team_rank(), size = team.team_size();
        incidence_head_dots(alpha, &q(b, v, 0), kx, ky, kd, other, edge, direction, b, a0, a1, heads, dh, scale, rank,
                            size);
        team.team_barrier();
        for (std::int64_t h = rank; h < heads; h += size) softmax_in_place(alpha, b, a0, a1, static_cast<int>(h));
        team.team_barrier();
        for (std::int64_t c = rank; c < d; c += size) {
          const int h = static_cast<int>(c / dh);
          const std::int64_t col = interleaved_column(c, heads, dh);
          T& o = out(b, v, c);
          o = 0;
          for (std::int64_t a = a0; a < a1; ++a)
            head_axpy(&o, alpha(b, a, h), &vx(b, other(a), col), &vy(b, edge(a), col), &vd(b, direction(a), col), 1, 1);
        }
      });
}
}  // namespace attention_detail

// out: [B][N][d]; alpha: [B][2E][H] softmax weights by incidence, saved for backward.
template <class E, class T>
void attention_forward(const E& exec, const V3<E, T>& out, const V3<E, T>& alpha, const AttentionTerms<E, T>& in,
                       const GraphViews<typename E::memory_space>& graph, const int heads,
                       AttentionSchedule schedule = default_attention_schedule<E>) {
  if (schedule == AttentionSchedule::thread_per_node)
    attention_detail::forward_per_thread(exec, out, alpha, in, graph, heads);
  else
    attention_detail::forward_per_team(exec, out, alpha, in, graph, heads);
}

namespace attention_detail {
// Softmax backward per (network, node), every head: dscore_a = α_a (dα_a − Σ_a' α_a' dα_a'), then dq.
template <class E, class T>
void backward_scores_per_thread(const E& exec, const V3<E, T>& dq, const V3<E, T>& dout,
                                const AttentionTerms<E, T>& in, const V3<E, T>& alpha, const V3<E, T>& dscore,
                                const GraphViews<typename E::memory_space>& graph, const int heads) {
  const auto q = in.q, kx = in.kx, vx = in.vx, ky = in.ky, vy = in.vy, kd = in.kd, vd = in.vd;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction;
  const bool want_dq = present(dq), vector_path = by_lanes_fits<T>(heads, dh);
  Kokkos::parallel_for(
      "hnet::attention_backward::score", Kokkos::RangePolicy<E>(exec, 0, batch * nodes),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / nodes, v = flat % nodes, a0 = offset(v), a1 = offset(v + 1);
#if defined(HNET_HOST_LANES)
        if constexpr (attention_detail::float_lanes<T>)
          if (vector_path) {
            by_lanes::head_dots(dscore, &dout(b, v, 0), vx, vy, vd, other, edge, direction, b, a0, a1, dh, 1.0f);
            by_lanes::softmax_backward(dscore, alpha, b, a0, a1);
            if (want_dq)
              by_lanes::weighted_rows(&dq(b, v, 0), false, dscore, scale, kx, ky, kd, other, edge, direction, b, a0,
                                      a1, dh);
            return;
          }
#endif
        (void)vector_path;
        incidence_head_dots(dscore, &dout(b, v, 0), vx, vy, vd, other, edge, direction, b, a0, a1, heads, dh, T(1), 0,
                            1);
        for (int h = 0; h < heads; ++h) softmax_backward_in_place(dscore, alpha, b, a0, a1, h);
        if (want_dq) weighted_rows(&dq(b, v, 0), dscore, scale, kx, ky, kd, other, edge, direction, b, a0, a1, heads, dh);
      });
}

template <class E, class T>
void backward_scores_per_team(const E& exec, const V3<E, T>& dq, const V3<E, T>& dout,
                              const AttentionTerms<E, T>& in, const V3<E, T>& alpha, const V3<E, T>& dscore,
                              const GraphViews<typename E::memory_space>& graph, const int heads) {
  using Policy = Kokkos::TeamPolicy<E>;
  using Member = typename Policy::member_type;
  const auto q = in.q, kx = in.kx, vx = in.vx, ky = in.ky, vy = in.vy, kd = in.kd, vd = in.vd;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction;
  const bool want_dq = present(dq);
  Kokkos::parallel_for(
      "hnet::attention_backward::score", Policy(exec, batch * nodes, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const std::int64_t b = team.league_rank() / nodes, v = team.league_rank() % nodes;
        const std::int64_t a0 = offset(v), a1 = offset(v + 1);
        const std::int64_t rank = team.team_rank(), size = team.team_size();
        incidence_head_dots(dscore, &dout(b, v, 0), vx, vy, vd, other, edge, direction, b, a0, a1, heads, dh, T(1), rank,
                            size);
        team.team_barrier();
        for (std::int64_t h = rank; h < heads; h += size)
          softmax_backward_in_place(dscore, alpha, b, a0, a1, static_cast<int>(h));
        if (!want_dq) return;
        team.team_barrier();
        for (std::int64_t c = rank; c < d; c += size) {
          const int h = static_cast<int>(c / dh);
          const std::int64_t col = interleaved_column(c, heads, dh);
          T& g = dq(b, v, c);
          for (std::int64_t a = a0; a < a1; ++a)
            head_axpy(&g, dscore(b, a, h) * scale, &kx(b, other(a), col), &ky(b, edge(a), col), &kd(b, direction(a), col),
                      1, 1);
        }
      });
}

template <class E, class T>
void backward_scores(const E& exec, const V3<E, T>& dq, const V3<E, T>& dout, const AttentionTerms<E, T>& in,
                     const V3<E, T>& alpha, const V3<E, T>& dscore, const GraphViews<typename E::memory_space>& graph,
                     const int heads, AttentionSchedule schedule) {
  if (schedule == AttentionSchedule::thread_per_node)
    backward_scores_per_thread(exec, dq, dout, in, alpha, dscore, graph, heads);
  else
    backward_scores_per_team(exec, dq, dout, in, alpha, dscore, graph, heads);
}
}  // namespace attention_detail

namespace attention_detail {
// The terms of node v's incidences of direction dir in head h: Σ dscore (times the 1/√dh scale) and Σ α.
template <class A, class I>
KOKKOS_FORCEINLINE_FUNCTION void direction_terms(const A& dscore, const A& alpha, const I& offset, const I& direction,
                                                 std::int64_t b, std::int64_t v, std::int64_t dir, std::int64_t h,
                                                 typename A::value_type scale, typename A::value_type& gk,
                                                 typename A::value_type& gv) {
  gk = 0, gv = 0;
  for (std::int64_t a = offset(v); a < offset(v + 1); ++a)
    if (direction(a) == dir) gk += dscore(b, a, h), gv += alpha(b, a, h);
  gk *= scale;
}

template <class E, class T>
void direction_gradients_per_thread(const E& exec, const V3<E, T>& dkd, const V3<E, T>& dvd, const V3<E, T>& q,
                                    const V3<E, T>& dout, const V3<E, T>& alpha, const V3<E, T>& dscore,
                                    const GraphViews<typename E::memory_space>& graph, const int heads) {
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), dh = q.extent(2) / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, direction = graph.incidence_direction;
  const bool want_k = present(dkd), want_v = present(dvd);
  Kokkos::parallel_for(
      "hnet::attention_backward::directions", Kokkos::RangePolicy<E>(exec, 0, batch * 2 * heads),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (2 * heads), dir = (flat / heads) % 2, h = flat % heads, c0 = h * dh;
        for (std::int64_t v = 0; v < nodes; ++v) {
          T gk, gv;
          direction_terms(dscore, alpha, offset, direction, b, v, dir, h, scale, gk, gv);
          if (want_k)
            for (std::int64_t c = c0; c < c0 + dh; ++c) dkd(b, dir, c) += gk * q(b, v, c);
          if (want_v)
            for (std::int64_t c = c0; c < c0 + dh; ++c) dvd(b, dir, c) += gv * dout(b, v, c);
        }
      });
}

template <class E, class T>
void direction_gradients_per_team(const E& exec, const V3<E, T>& dkd, const V3<E, T>& dvd, const V3<E, T>& q,
                                  const V3<E, T>& dout, const V3<E, T>& alpha, const V3<E, T>& dscore,
                                  const GraphViews<typename E::memory_space>& graph, const int heads) {
  using Policy = Kokkos::TeamPolicy<E>;
  using Scratch = Kokkos::View<T**, Kokkos::LayoutRight, typename E::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, direction = graph.incidence_direction;
  const bool want_k = present(dkd), want_v = present(dvd);
  const std::size_t bytes = 2 * Scratch::shmem_size(nodes, heads);
  const int level = bytes <= 16384 ? 0 : 1;
  Kokkos::parallel_for(
      "hnet::attention_backward::directions",
      Policy(exec, batch * 2, Kokkos::AUTO).set_scratch_size(level, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const typename Policy::member_type& team) {
        const std::int64_t b = team.league_rank() / 2, dir = team.league_rank() % 2;
        const std::int64_t rank = team.team_rank(), size = team.team_size();
        Scratch gk(team.team_scratch(level), nodes, heads), gv(team.team_scratch(level), nodes, heads);
        for (std::int64_t k = rank; k < nodes * heads; k += size)
          direction_terms(dscore, alpha, offset, direction, b, k / heads, dir, k % heads, scale, gk(k / heads, k % heads),
                          gv(k / heads, k % heads));
        team.team_barrier();
        for (std::int64_t c = rank; c < d; c += size) {
          const std::int64_t h = c / dh;
          for (std::int64_t v = 0; v < nodes; ++v) {
            if (want_k) dkd(b, dir, c) += gk(v, h) * q(b, v, c);
            if (want_v) dvd(b, dir, c) += gv(v, h) * dout(b, v, c);
          }
        }
      });
}
}  // namespace attention_detail

namespace attention_detail {
// dkd, dvd: per (network, direction, head), each node's incidences of that direction are summed
// first (the node's q and dout rows are common to them), then the nodes are added in order. On a
// GPU a team per (network, direction) sums the nodes' terms in parallel into scratch, then its
// threads take the channels, each adding the nodes in the same order.
template <class E, class T>
void direction_gradients(const E& exec, const V3<E, T>& dkd, const V3<E, T>& dvd, const V3<E, T>& q,
                         const V3<E, T>& dout, const V3<E, T>& alpha, const V3<E, T>& dscore,
                         const GraphViews<typename E::memory_space>& graph, const int heads,
                         AttentionSchedule schedule) {
  if (schedule == AttentionSchedule::thread_per_node)
    direction_gradients_per_thread(exec, dkd, dvd, q, dout, alpha, dscore, graph, heads);
  else
    direction_gradients_per_team(exec, dkd, dvd, q, dout, alpha, dscore, graph, heads);
}
}  // namespace attention_detail

// dscore: [B][2E][H] scratch that receives dJ/dscore. Any input gradient may be absent. Every
// gradient is added to, except the edges' (ky, vy) with edge_mode = Accumulate::no: assigned.
template <class E, class T>
void attention_backward(const E& exec, const AttentionTerms<E, T>& grad, const V3<E, T>& dout,
                        const AttentionTerms<E, T>& in, const V3<E, T>& alpha, const V3<E, T>& dscore,
                        const GraphViews<typename E::memory_space>& graph, const int heads,
                        AttentionSchedule schedule = default_attention_schedule<E>,
                        Accumulate edge_mode = Accumulate::yes) {
  const auto q = in.q;
  const auto dq = grad.q, dkx = grad.kx, dvx = grad.vx, dky = grad.ky, dvy = grad.vy, dkd = grad.kd, dvd = grad.vd;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const std::int64_t edges = graph.edges;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, other = graph.incidence_other, mirror = graph.incidence_mirror;
  const auto edge_incidence = graph.edge_incidence;
  const auto source = graph.edge_source, target = graph.edge_target;

  attention_detail::backward_scores(exec, dq, dout, in, alpha, dscore, graph, heads, schedule);

  // Node u received key/value contributions wherever it is the "other" end: at the mirrors of its
  // own incidences, which belong to the node at the far end of each. Work items are (network, row,
  // head) with the head's channels innermost, so index arithmetic is paid once per row and the
  // channel loop streams contiguous memory; each item adds its terms in incidence order.
  if (present(dkx) || present(dvx)) {
    const bool want_k = present(dkx), want_v = present(dvx);
    const int lanes = attention_detail::mirrored_sum_lanes<T>(dh);
    Kokkos::parallel_for(
        "hnet::attention_backward::nodes", Kokkos::RangePolicy<E>(exec, 0, batch * nodes * heads),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (nodes * heads), u = (flat / heads) % nodes, h = flat % heads, c0 = h * dh;
#if defined(HNET_HOST_LANES)
          if constexpr (attention_detail::float_lanes<T>)
            if (lanes > 0) {
              using attention_detail::by_lanes::mirrored_sums_by_width;
              const std::int64_t a0 = offset(u), a1 = offset(u + 1);
              if (want_k) mirrored_sums_by_width(lanes, &dkx(b, u, 0), dscore, scale, q, mirror, other, b, h, a0, a1, c0, dh);
              if (want_v) mirrored_sums_by_width(lanes, &dvx(b, u, 0), alpha, 1.0f, dout, mirror, other, b, h, a0, a1, c0, dh);
              return;
            }
#endif
          (void)lanes;
          for (std::int64_t a = offset(u); a < offset(u + 1); ++a) {
            const int seen_from = mirror(a), w = other(a);
            const T gk = dscore(b, seen_from, h) * scale, gv = alpha(b, seen_from, h);
            if (want_k)
              for (std::int64_t c = c0; c < c0 + dh; ++c) dkx(b, u, c) += gk * q(b, w, c);
            if (want_v)
              for (std::int64_t c = c0; c < c0 + dh; ++c) dvx(b, u, c) += gv * dout(b, w, c);
          }
        });
  }

  // An edge enters the keys and values of its two end nodes. Work items: a row (network, edge) on
  // the host, where index arithmetic per (network, edge, head) would cost as much as the head's 2dh
  // products; a (network, edge, head) on GPUs, for the threads.
  if (present(dky) || present(dvy)) {
    const bool want_k = present(dky), want_v = present(dvy), add = edge_mode == Accumulate::yes;
    const std::int64_t heads_per_item = on_host<E> ? heads : 1, groups = heads / heads_per_item;
    Kokkos::parallel_for(
        "hnet::attention_backward::edges", Kokkos::RangePolicy<E>(exec, 0, batch * edges * groups),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (edges * groups), e = (flat / groups) % edges;
          const std::int64_t h0 = (flat % groups) * heads_per_item;
          const int at_target = edge_incidence(e, 0), at_source = edge_incidence(e, 1);
          const int t = target(e), s = source(e);
          for (std::int64_t h = h0; h < h0 + heads_per_item; ++h) {
            const std::int64_t c0 = h * dh;
            const T kt = dscore(b, at_target, h) * scale, ks = dscore(b, at_source, h) * scale;
            const T vt = alpha(b, at_target, h), vs = alpha(b, at_source, h);
            if (want_k)
              for (std::int64_t c = c0; c < c0 + dh; ++c)
                write_or_add(dky(b, e, c), kt * q(b, t, c) + ks * q(b, s, c), add);
            if (want_v)
              for (std::int64_t c = c0; c < c0 + dh; ++c)
                write_or_add(dvy(b, e, c), vt * dout(b, t, c) + vs * dout(b, s, c), add);
          }
        });
  }

  // The direction embeddings are shared by every incidence of their direction.
  if (present(dkd) || present(dvd))
    attention_detail::direction_gradients(exec, dkd, dvd, q, dout, alpha, dscore, graph, heads, schedule);
}

}  // namespace hnet::kernels
