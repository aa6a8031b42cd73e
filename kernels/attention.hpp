#pragma once
// Edge-aware graph attention (model.md §5.1 step 2), the part between the projections. By
// linearity of A_k, the key of node v's incidence a (edge e, other end u, direction δ) is
//   key_a = kx[u] + ky[e] + kd[δ]   (kx = x A_k on nodes, ky = y A_k on edges, kd = D A_k + c_k),
// and likewise val_a = vx[u] + vy[e] + vd[δ], so the projections run as plain linear layers on N
// nodes and E edges instead of on 2E incidences. Per head h (channels h·dh .. h·dh + dh − 1):
//   score_a = q[v]·key_a / √dh,  α = softmax over v's incidences,  out[v] = Σ_a α_a val_a.
// Backward gathers through the incidence lists (the mirror of an incidence is the same edge seen
// from its other end), so every gradient element has one owner and no atomics are needed.
#include <cstdint>
#include <type_traits>

#include "kernels/activations.hpp"
#include "kernels/compat.hpp"
#include "kernels/graph_views.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

// The queries and the node, edge and direction terms of the keys and values (q, kx, vx: [B][N][d];
// ky, vy: [B][E][d]; kd, vd: [B][2][d], row = Direction), or their gradients.
template <class E, class T>
struct AttentionTerms {
  V3<E, T> q, kx, vx, ky, vy, kd, vd;
};

namespace attention_detail {
// Σ_c q[c] · (x[c] + y[c] + z[c]) over one head's n channels, in order, each product rounded before
// it is added. On the host the rounding is enforced (compat::keep_rounded): left to itself GCC
// vectorises the products of a long enough loop and adds them in order, but fuses them into the
// sum (FMA) in a short loop and in a loop's tail, so the bits would depend on n and on the
// compiler's choices, and the vector path of the host's schedule (head_dots_by_lanes) could not
// match them. Device compilers fuse as they like (one schedule runs there).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T head_dot(const T* q, const T* x, const T* y, const T* z, std::int64_t n) {
  T s = 0;
  for (std::int64_t c = 0; c < n; ++c) {
    T product[1] = {q[c] * (x[c] + y[c] + z[c])};
    compat::keep_rounded(product);
    s += product[0];
  }
  return s;
}
// out[c] += w · (x[c] + y[c] + z[c]) over one head's n channels.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void head_axpy(T* out, T w, const T* x, const T* y, const T* z, std::int64_t n) {
  for (std::int64_t c = 0; c < n; ++c) out[c] += w * (x[c] + y[c] + z[c]);
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

// dst(b, a, h) = factor · Σ_c row[c]·(x[u][c] + y[e][c] + z[δ][c]) over head h's channels, for the
// items k = first, first + step, … of node v's incidences × heads (k = (a − a0)·heads + h): the
// team schedule's scores of the forward (row = q[v]) and dJ/dα of the backward (row = dout[v]).
template <class A, class I>
KOKKOS_FORCEINLINE_FUNCTION void incidence_head_dots(const A& dst, const typename A::value_type* row, const A& x,
                                                     const A& y, const A& z, const I& other, const I& edge,
                                                     const I& direction, std::int64_t b, std::int64_t a0,
                                                     std::int64_t a1, int heads, std::int64_t dh,
                                                     typename A::value_type factor, std::int64_t first,
                                                     std::int64_t step) {
  for (std::int64_t k = first; k < (a1 - a0) * heads; k += step) {
    const std::int64_t a = a0 + k / heads, h = k % heads, c0 = h * dh;
    dst(b, a, h) = head_dot(row + c0, &x(b, other(a), c0), &y(b, edge(a), c0), &z(b, direction(a), c0), dh) * factor;
  }
}

#if defined(HNET_HOST_LANES)
// a, b, c, d hold four rows of four lanes; afterwards they hold its four columns.
template <class V>
inline __attribute__((always_inline)) void transpose4(V& a, V& b, V& c, V& d) {
  typedef std::conditional_t<sizeof(a[0]) == 4, std::int32_t, std::int64_t> Lane;
  typedef Lane Mask __attribute__((vector_size(4 * sizeof(Lane))));
  const V ab_lo = __builtin_shuffle(a, b, Mask{0, 4, 1, 5}), ab_hi = __builtin_shuffle(a, b, Mask{2, 6, 3, 7});
  const V cd_lo = __builtin_shuffle(c, d, Mask{0, 4, 1, 5}), cd_hi = __builtin_shuffle(c, d, Mask{2, 6, 3, 7});
  a = __builtin_shuffle(ab_lo, cd_lo, Mask{0, 1, 4, 5}), b = __builtin_shuffle(ab_lo, cd_lo, Mask{2, 3, 6, 7});
  c = __builtin_shuffle(ab_hi, cd_hi, Mask{0, 1, 4, 5}), d = __builtin_shuffle(ab_hi, cd_hi, Mask{2, 3, 6, 7});
}

// Channels c .. c + 3 of four consecutive heads' rows (head width dh), as four vectors.
template <class V, class T>
inline __attribute__((always_inline)) void load_head_chunks(const T* row, std::int64_t dh, V& h0, V& h1, V& h2, V& h3) {
  __builtin_memcpy(&h0, row, sizeof(V)), __builtin_memcpy(&h1, row + dh, sizeof(V));
  __builtin_memcpy(&h2, row + 2 * dh, sizeof(V)), __builtin_memcpy(&h3, row + 3 * dh, sizeof(V));
}

// The thread schedule's scores of node v with four heads to a vector: lane h of a group sums
// head h's rounded products in channel order, the operations of head_dot per lane, so the same
// bits (a test compares them with the team schedule's). The channels go four at a time
// through 4×4 transposes into head lanes; a chunk's partial sums wait in dst (a float stored and
// reloaded is exact), so q's transposed chunk is made once per node. heads and dh: multiples of 4.
template <class A, class I>
inline __attribute__((always_inline)) void head_dots_by_lanes(const A& dst, const typename A::value_type* row,
                                                              const A& x, const A& y, const A& z, const I& other,
                                                              const I& edge, const I& direction, std::int64_t b,
                                                              std::int64_t a0, std::int64_t a1, int heads,
                                                              std::int64_t dh, typename A::value_type factor) {
  using T = typename A::value_type;
  typedef T V __attribute__((vector_size(4 * sizeof(T))));
  for (int g = 0; g < heads; g += 4) {
    const std::int64_t c0 = g * dh;
    for (std::int64_t c = 0; c < dh; c += 4) {
      V q0, q1, q2, q3;
      load_head_chunks(row + c0 + c, dh, q0, q1, q2, q3);
      transpose4(q0, q1, q2, q3);
      for (std::int64_t a = a0; a < a1; ++a) {
        V x0, x1, x2, x3, y0, y1, y2, y3, z0, z1, z2, z3;
        load_head_chunks(&x(b, other(a), c0 + c), dh, x0, x1, x2, x3);
        load_head_chunks(&y(b, edge(a), c0 + c), dh, y0, y1, y2, y3);
        load_head_chunks(&z(b, direction(a), c0 + c), dh, z0, z1, z2, z3);
        V t0 = x0 + y0 + z0, t1 = x1 + y1 + z1, t2 = x2 + y2 + z2, t3 = x3 + y3 + z3;
        transpose4(t0, t1, t2, t3);
        V s = V{};
        if (c > 0) __builtin_memcpy(&s, &dst(b, a, g), sizeof s);
        V p0 = q0 * t0, p1 = q1 * t1, p2 = q2 * t2, p3 = q3 * t3;
        compat::opaque(p0), compat::opaque(p1), compat::opaque(p2), compat::opaque(p3);
        s += p0, s += p1, s += p2, s += p3;
        if (c + 4 == dh) s *= factor;
        __builtin_memcpy(&dst(b, a, g), &s, sizeof s);
      }
    }
  }
}
#endif

// dst(b, a, h) = factor · Σ_c row[c]·(x[u][c] + y[e][c] + z[δ][c]) over head h's channels, for
// node v's incidences a0 .. a1 − 1 and every head: the thread schedule's scores (row = q[v]) and
// dJ/dα (row = dout[v]). Four heads to a vector on the host; otherwise (other head counts and
// widths, device compilers) the team schedule's loop walked by one thread.
template <class A, class I>
KOKKOS_FORCEINLINE_FUNCTION void all_head_dots(const A& dst, const typename A::value_type* row, const A& x,
                                               const A& y, const A& z, const I& other, const I& edge,
                                               const I& direction, std::int64_t b, std::int64_t a0, std::int64_t a1,
                                               int heads, std::int64_t dh, typename A::value_type factor) {
#if defined(HNET_HOST_LANES)
  if (heads % 4 == 0 && dh % 4 == 0)
    return head_dots_by_lanes(dst, row, x, y, z, other, edge, direction, b, a0, a1, heads, dh, factor);
#endif
  incidence_head_dots(dst, row, x, y, z, other, edge, direction, b, a0, a1, heads, dh, factor, 0, 1);
}

template <class E, class T>
void forward_per_thread(const E& exec, const V3<E, T>& out, const V3<E, T>& alpha, const AttentionTerms<E, T>& in,
                        const GraphViews<typename E::memory_space>& graph, const int heads) {
  const auto q = in.q, kx = in.kx, vx = in.vx, ky = in.ky, vy = in.vy, kd = in.kd, vd = in.vd;
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction;
  // Every head in one pass over the incidences: the rows of keys and values are read once each.
  Kokkos::parallel_for(
      "hnet::attention_forward", Kokkos::RangePolicy<E>(exec, 0, batch * nodes), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / nodes, v = flat % nodes, a0 = offset(v), a1 = offset(v + 1);
        all_head_dots(alpha, &q(b, v, 0), kx, ky, kd, other, edge, direction, b, a0, a1, heads, dh, scale);
        for (int h = 0; h < heads; ++h) softmax_in_place(alpha, b, a0, a1, h);
        T* outv = &out(b, v, 0);
        for (std::int64_t c = 0; c < d; ++c) outv[c] = 0;
        for (std::int64_t a = a0; a < a1; ++a) {
          const T* vxu = &vx(b, other(a), 0);
          const T* vye = &vy(b, edge(a), 0);
          const T* vdd = &vd(b, direction(a), 0);
          for (int h = 0; h < heads; ++h) {
            const std::int64_t c0 = h * dh;
            head_axpy(outv + c0, alpha(b, a, h), vxu + c0, vye + c0, vdd + c0, dh);
          }
        }
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
          T& o = out(b, v, c);
          o = 0;
          for (std::int64_t a = a0; a < a1; ++a)
            head_axpy(&o, alpha(b, a, h), &vx(b, other(a), c), &vy(b, edge(a), c), &vd(b, direction(a), c), 1);
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
  const bool want_dq = present(dq);
  Kokkos::parallel_for(
      "hnet::attention_backward::score", Kokkos::RangePolicy<E>(exec, 0, batch * nodes),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / nodes, v = flat % nodes, a0 = offset(v), a1 = offset(v + 1);
        all_head_dots(dscore, &dout(b, v, 0), vx, vy, vd, other, edge, direction, b, a0, a1, heads, dh, T(1));
        for (int h = 0; h < heads; ++h) softmax_backward_in_place(dscore, alpha, b, a0, a1, h);
        if (!want_dq) return;
        T* dqv = &dq(b, v, 0);
        for (std::int64_t a = a0; a < a1; ++a) {
          const T* kxu = &kx(b, other(a), 0);
          const T* kye = &ky(b, edge(a), 0);
          const T* kdd = &kd(b, direction(a), 0);
          for (int h = 0; h < heads; ++h) {
            const std::int64_t c0 = h * dh;
            head_axpy(dqv + c0, dscore(b, a, h) * scale, kxu + c0, kye + c0, kdd + c0, dh);
          }
        }
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
          T& g = dq(b, v, c);
          for (std::int64_t a = a0; a < a1; ++a)
            head_axpy(&g, dscore(b, a, h) * scale, &kx(b, other(a), c), &ky(b, edge(a), c), &kd(b, direction(a), c), 1);
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
    Kokkos::parallel_for(
        "hnet::attention_backward::nodes", Kokkos::RangePolicy<E>(exec, 0, batch * nodes * heads),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (nodes * heads), u = (flat / heads) % nodes, h = flat % heads, c0 = h * dh;
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

  // An edge enters the keys and values of its two end nodes.
  if (present(dky) || present(dvy)) {
    const bool want_k = present(dky), want_v = present(dvy), add = edge_mode == Accumulate::yes;
    Kokkos::parallel_for(
        "hnet::attention_backward::edges", Kokkos::RangePolicy<E>(exec, 0, batch * edges * heads),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (edges * heads), e = (flat / heads) % edges, h = flat % heads, c0 = h * dh;
          const int at_target = edge_incidence(e, 0), at_source = edge_incidence(e, 1);
          const int t = target(e), s = source(e);
          const T kt = dscore(b, at_target, h) * scale, ks = dscore(b, at_source, h) * scale;
          const T vt = alpha(b, at_target, h), vs = alpha(b, at_source, h);
          if (want_k)
            for (std::int64_t c = c0; c < c0 + dh; ++c)
              write_or_add(dky(b, e, c), kt * q(b, t, c) + ks * q(b, s, c), add);
          if (want_v)
            for (std::int64_t c = c0; c < c0 + dh; ++c)
              write_or_add(dvy(b, e, c), vt * dout(b, t, c) + vs * dout(b, s, c), add);
        });
  }

  // The direction embeddings are shared by every incidence of their direction.
  if (present(dkd) || present(dvd))
    attention_detail::direction_gradients(exec, dkd, dvd, q, dout, alpha, dscore, graph, heads, schedule);
}

}  // namespace hnet::kernels
