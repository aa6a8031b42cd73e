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

#include "kernels/compat.hpp"
#include "kernels/graph_views.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

// out, q, kx, vx: [B][N][d]; ky, vy: [B][E][d]; kd, vd: [B][2][d] (row = Direction);
// alpha: [B][2E][H] softmax weights by incidence, saved for backward.
template <class E, class T>
void attention_forward(const E& exec, const V3<E, T>& out, const V3<E, T>& alpha, const V3<E, T>& q, const V3<E, T>& kx,
                       const V3<E, T>& vx, const V3<E, T>& ky, const V3<E, T>& vy, const V3<E, T>& kd,
                       const V3<E, T>& vd, const GraphViews<typename E::memory_space>& graph, const int heads) {
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction;
  Kokkos::parallel_for(
      "hnet::attention_forward", Kokkos::RangePolicy<E>(exec, 0, batch * nodes * heads),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (nodes * heads), v = (flat / heads) % nodes, h = flat % heads;
        const std::int64_t c0 = h * dh, a0 = offset(v), a1 = offset(v + 1);
        // alpha holds the raw scores, then their exponentials, then the softmax weights.
        T top = 0;
        for (std::int64_t a = a0; a < a1; ++a) {
          const int u = other(a), e = edge(a), dir = direction(a);
          T s = 0;
          for (std::int64_t c = c0; c < c0 + dh; ++c) s += q(b, v, c) * (kx(b, u, c) + ky(b, e, c) + kd(b, dir, c));
          s *= scale;
          alpha(b, a, h) = s;
          if (a == a0 || s > top) top = s;
        }
        double sum = 0;
        for (std::int64_t a = a0; a < a1; ++a) {
          const double w = compat::exp(static_cast<double>(alpha(b, a, h) - top));
          alpha(b, a, h) = static_cast<T>(w);
          sum += w;
        }
        const double inv_sum = 1.0 / sum;
        for (std::int64_t a = a0; a < a1; ++a)
          alpha(b, a, h) = static_cast<T>(static_cast<double>(alpha(b, a, h)) * inv_sum);
        for (std::int64_t c = c0; c < c0 + dh; ++c) out(b, v, c) = 0;
        for (std::int64_t a = a0; a < a1; ++a) {
          const T w = alpha(b, a, h);
          const int u = other(a), e = edge(a), dir = direction(a);
          for (std::int64_t c = c0; c < c0 + dh; ++c) out(b, v, c) += w * (vx(b, u, c) + vy(b, e, c) + vd(b, dir, c));
        }
      });
}

// dscore: [B][2E][H] scratch that receives dJ/dscore. Any input gradient may be absent.
template <class E, class T>
void attention_backward(const E& exec, const V3<E, T>& dq, const V3<E, T>& dkx, const V3<E, T>& dvx,
                        const V3<E, T>& dky, const V3<E, T>& dvy, const V3<E, T>& dkd, const V3<E, T>& dvd,
                        const V3<E, T>& dout, const V3<E, T>& q, const V3<E, T>& kx, const V3<E, T>& vx,
                        const V3<E, T>& ky, const V3<E, T>& vy, const V3<E, T>& kd, const V3<E, T>& vd,
                        const V3<E, T>& alpha, const V3<E, T>& dscore,
                        const GraphViews<typename E::memory_space>& graph, const int heads) {
  const std::int64_t batch = q.extent(0), nodes = q.extent(1), d = q.extent(2), dh = d / heads;
  const std::int64_t edges = graph.edges;
  const T scale = static_cast<T>(1.0 / compat::sqrt(static_cast<double>(dh)));
  const auto offset = graph.incidence_offset, edge = graph.incidence_edge, other = graph.incidence_other,
             direction = graph.incidence_direction, mirror = graph.incidence_mirror;
  const auto edge_incidence = graph.edge_incidence;
  const auto source = graph.edge_source, target = graph.edge_target;

  // Softmax backward per (network, node, head): dscore_a = α_a (dα_a − Σ_a' α_a' dα_a'), then dq.
  const bool want_dq = present(dq);
  Kokkos::parallel_for(
      "hnet::attention_backward::score", Kokkos::RangePolicy<E>(exec, 0, batch * nodes * heads),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (nodes * heads), v = (flat / heads) % nodes, h = flat % heads;
        const std::int64_t c0 = h * dh, a0 = offset(v), a1 = offset(v + 1);
        double mean = 0;
        for (std::int64_t a = a0; a < a1; ++a) {
          const int u = other(a), e = edge(a), dir = direction(a);
          T dalpha = 0;
          for (std::int64_t c = c0; c < c0 + dh; ++c)
            dalpha += dout(b, v, c) * (vx(b, u, c) + vy(b, e, c) + vd(b, dir, c));
          dscore(b, a, h) = dalpha;
          mean += static_cast<double>(alpha(b, a, h)) * static_cast<double>(dalpha);
        }
        for (std::int64_t a = a0; a < a1; ++a)
          dscore(b, a, h) =
              static_cast<T>(static_cast<double>(alpha(b, a, h)) * (static_cast<double>(dscore(b, a, h)) - mean));
        if (!want_dq) return;
        for (std::int64_t a = a0; a < a1; ++a) {
          const T g = dscore(b, a, h) * scale;
          const int u = other(a), e = edge(a), dir = direction(a);
          for (std::int64_t c = c0; c < c0 + dh; ++c) dq(b, v, c) += g * (kx(b, u, c) + ky(b, e, c) + kd(b, dir, c));
        }
      });

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
    const bool want_k = present(dky), want_v = present(dvy);
    Kokkos::parallel_for(
        "hnet::attention_backward::edges", Kokkos::RangePolicy<E>(exec, 0, batch * edges * heads),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (edges * heads), e = (flat / heads) % edges, h = flat % heads, c0 = h * dh;
          const int at_target = edge_incidence(e, 0), at_source = edge_incidence(e, 1);
          const int t = target(e), s = source(e);
          const T kt = dscore(b, at_target, h) * scale, ks = dscore(b, at_source, h) * scale;
          const T vt = alpha(b, at_target, h), vs = alpha(b, at_source, h);
          if (want_k)
            for (std::int64_t c = c0; c < c0 + dh; ++c) dky(b, e, c) += kt * q(b, t, c) + ks * q(b, s, c);
          if (want_v)
            for (std::int64_t c = c0; c < c0 + dh; ++c) dvy(b, e, c) += vt * dout(b, t, c) + vs * dout(b, s, c);
        });
  }

  // The direction embeddings are shared by every incidence of their direction. Per (network,
  // direction, head), each node's incidences of that direction are summed first (the node's q and
  // dout rows are common to them), then the nodes are added in order.
  if (present(dkd) || present(dvd)) {
    const bool want_k = present(dkd), want_v = present(dvd);
    Kokkos::parallel_for(
        "hnet::attention_backward::directions", Kokkos::RangePolicy<E>(exec, 0, batch * 2 * heads),
        KOKKOS_LAMBDA(const std::int64_t flat) {
          const std::int64_t b = flat / (2 * heads), dir = (flat / heads) % 2, h = flat % heads, c0 = h * dh;
          for (std::int64_t v = 0; v < nodes; ++v) {
            T gk = 0, gv = 0;
            for (std::int64_t a = offset(v); a < offset(v + 1); ++a)
              if (direction(a) == dir) gk += dscore(b, a, h), gv += alpha(b, a, h);
            gk *= scale;
            if (want_k)
              for (std::int64_t c = c0; c < c0 + dh; ++c) dkd(b, dir, c) += gk * q(b, v, c);
            if (want_v)
              for (std::int64_t c = c0; c < c0 + dh; ++c) dvd(b, dir, c) += gv * dout(b, v, c);
          }
        });
  }
}

}  // namespace hnet::kernels
