#include "hnet/model.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>


#include "hnet/evaluation.hpp"
#include "hnet/identity_features.hpp"
#include "hnet/saturating.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/attention.hpp"
#include "kernels/beta_conditioning.hpp"
#include "kernels/concat_layernorm.hpp"
#include "kernels/gather.hpp"
#include "kernels/identity.hpp"
#include "kernels/generated_mlp.hpp"
#include "kernels/latent.hpp"
#include "kernels/edge_input_backward.hpp"
#include "kernels/edge_input_forward.hpp"
#include "kernels/edge_layernorm.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/linear.hpp"
#include "kernels/pointwise.hpp"
#include "kernels/random.hpp"
#include "kernels/readout.hpp"
#include "kernels/task_data.hpp"

namespace hnet {

double beta_encoding(double log10_beta, double lo, double hi) { return 2.0 * (log10_beta - lo) / (hi - lo) - 1.0; }

namespace {

namespace hk = kernels;

// Named arguments of the linear wrappers: write or add the product; apply the layer's bias or skip
// it (A_k and A_v apply theirs once, to the direction rows).
using Add = hk::Accumulate;
enum class Bias { apply, skip };

// Zeroes the gradient arena before each backward (62 MB at quick size, about 1 GB at paper size).
// On the host each thread clears one contiguous share with memset, whose large-size path streams
// to memory without first reading every line, as a fill loop's stores do (twice the traffic);
// GPUs keep Kokkos' fill. All-zero bytes are +0.0, what the fill writes.
template <class T>
void clear_arena(const ExecSpace& exec, const View1<T>& arena) {
  if constexpr (hk::on_host<ExecSpace>) {
    const std::int64_t count = static_cast<std::int64_t>(arena.span());
    const std::int64_t shares = std::max(1, exec.concurrency());
    const std::int64_t line = 64 / static_cast<std::int64_t>(sizeof(T));  // shares start on cache lines
    const std::int64_t share = ((count + shares - 1) / shares + line - 1) / line * line;
    T* const data = arena.data();
    Kokkos::parallel_for("hnet::clear_arena", Kokkos::RangePolicy<ExecSpace>(exec, 0, shares), [=](const std::int64_t k) {
      const std::int64_t begin = std::min(count, k * share), end = std::min(count, begin + share);
      if (end > begin) std::memset(data + begin, 0, static_cast<std::size_t>(end - begin) * sizeof(T));
    });
  } else {
    Kokkos::deep_copy(exec, arena, T(0));
  }
}

// How an activation's gradient buffer starts a backward: absent (a stream's shared buffer holds
// it), zeroed with its arena (backward adds every term to it), or assigned by its first writer,
// which must be the first kernel of backward to touch it and is called with Accumulate::no.
enum class GradStart { none, zeroed, assigned };
struct ArenaSizes {
  std::int64_t zeroed = 0, assigned = 0;  // elements
};

// An activation with its gradient; `g` stays empty where a stream shares one gradient buffer.
template <class T>
struct Act {
  View3<T> v, g;
};

// Every view of the workspace is made here. The same code runs in counting mode for
// Model::estimate_bytes(), so a run can be refused before it allocates, and the estimate cannot
// drift from the constructor: counting adds up the requested extents, allocating adds up what the
// views really hold, and the tests compare the two.
template <class T>
struct Allocator {
  std::int64_t batch;
  bool counting = false;
  std::size_t bytes = 0;
  // Gradient views are carved from two arenas. Those that backward adds to (several consumers,
  // the residual streams, dP) come from `zeroed`, cleared before each backward in one launch over
  // contiguous memory (≈120 launches otherwise); those whose first writer assigns them come from
  // `assigned`, which nothing clears (most of the gradient bytes: clearing them streamed them once
  // more per step). A counting pass learns both sizes.
  static constexpr std::int64_t arena_alignment = 16;  // elements: every carved view starts on 64 bytes
  struct Arena {
    View1<T> memory;
    std::int64_t used = 0;
  };
  Arena zeroed, assigned;

  // One view's bytes. Kokkos rounds every allocation up to a multiple of 8 bytes (ViewMapping's
  // MemorySpanMask), which matters for the graph's int arrays. Saturates instead of wrapping: a
  // deck far too large must read as "too large", not as small.
  void add(std::size_t element, std::initializer_list<std::int64_t> extents) {
    std::size_t total = element;
    for (const std::int64_t e : extents) total = e < 0 ? SIZE_MAX : saturating_multiply(total, static_cast<std::size_t>(e));
    if (total != SIZE_MAX) total = total > SIZE_MAX - 7 ? SIZE_MAX : (total + 7) & ~std::size_t{7};
    bytes = saturating_add(bytes, total);
  }
  template <class V, class... Extents>
  V make(const std::string& name, Extents... extents) {
    using Value = typename V::non_const_value_type;
    if (counting) {
      add(sizeof(Value), {static_cast<std::int64_t>(extents)...});
      return V();
    }
    // Allocated untouched, given huge pages where the host has them, then zeroed as a View's
    // constructor would have: the first touch then faults in 2 MiB pages (memory.hpp).
    V v(Kokkos::view_alloc("hnet::model::" + name, Kokkos::WithoutInitializing), extents...);
    if constexpr (std::is_same<typename V::memory_space, Kokkos::HostSpace>::value)
      advise_huge_pages(v.data(), v.span() * sizeof(Value));
    Kokkos::deep_copy(v, Value(0));
    add(sizeof(Value), {static_cast<std::int64_t>(v.span())});
    return v;
  }
  View3<T> view(const std::string& name, std::int64_t rows, std::int64_t cols) {
    return make<View3<T>>(name, batch, rows, cols);
  }
  View2<T> view2(const std::string& name, std::int64_t rows) { return make<View2<T>>(name, batch, rows); }
  Act<T> act(const std::string& name, std::int64_t rows, std::int64_t cols, GradStart start = GradStart::zeroed) {
    Act<T> a{view(name, rows, cols), {}};
    if (start != GradStart::none) a.g = grad(rows, cols, start);
    return a;
  }
  // The arenas themselves: in counting mode after every grad() (their sizes are then known),
  // otherwise before the first, with the sizes a counting pass found.
  void open_arenas(ArenaSizes sizes) {
    zeroed.memory = make<View1<T>>("gradients", sizes.zeroed);
    assigned.memory = make<View1<T>>("assigned_gradients", sizes.assigned);
  }
  ArenaSizes arena_sizes() const { return {zeroed.used, assigned.used}; }
  // A [batch][rows][cols] gradient view inside an arena (unmanaged: the arena owns the memory).
  View3<T> grad(std::int64_t rows, std::int64_t cols, GradStart start = GradStart::zeroed) {
    Arena& arena = start == GradStart::assigned ? assigned : zeroed;
    const std::int64_t begin = arena.used, size = batch * rows * cols;
    arena.used += (size + arena_alignment - 1) / arena_alignment * arena_alignment;
    if (counting) return View3<T>();
    if (arena.used > static_cast<std::int64_t>(arena.memory.extent(0)))
      throw std::logic_error("model workspace: a gradient arena is smaller than its counting pass said");
    return View3<T>(arena.memory.data() + begin, batch, rows, cols);
  }
  View2<T> grad2(std::int64_t rows) {
    const View3<T> v = grad(rows, 1);
    return counting ? View2<T>() : View2<T>(v.data(), batch, rows);
  }
  // G(n, m) on the device: built by graph.cpp, so counting mode states its extents here.
  Graph graph(std::int64_t n, std::int64_t m) {
    const std::int64_t N = n + m + 1, E = n * m + m;
    if (counting) {
      for (const std::int64_t length : {N, N, N + 1})  // node_type, node_index_in_type, incidence_offset
        add(sizeof(int), {length});
      for (const std::int64_t length : {E, E, E, 2 * E})  // edge_type, _source, _target, edge_incidence
        add(sizeof(int), {length});
      for (int k = 0; k < 4; ++k) add(sizeof(int), {2 * E});  // incidence_edge, _other, _direction, _mirror
      return Graph();
    }
    Graph g = build_graph(n, m);
    for (const std::size_t span : {g.node_type.span(), g.node_index_in_type.span(), g.edge_type.span(),
                                   g.edge_source.span(), g.edge_target.span(), g.incidence_offset.span(),
                                   g.incidence_edge.span(), g.incidence_other.span(), g.incidence_direction.span(),
                                   g.incidence_mirror.span(), g.edge_incidence.span()})
      add(sizeof(int), {static_cast<std::int64_t>(span)});
    return g;
  }
};

// A layer norm's output with its saved statistics.
template <class T>
struct Normed {
  Act<T> out;
  View2<T> mean, rstd;
  Normed() = default;
  Normed(Allocator<T>& alloc, const std::string& name, std::int64_t rows, std::int64_t cols,
         GradStart start = GradStart::zeroed)
      : out(alloc.act(name, rows, cols, start)), mean(alloc.view2(name + "_mean", rows)),
        rstd(alloc.view2(name + "_rstd", rows)) {}
  // Only the statistics: a fused kernel forms the rows where it needs them.
  Normed(Allocator<T>& alloc, const std::string& name, std::int64_t rows)
      : mean(alloc.view2(name + "_mean", rows)), rstd(alloc.view2(name + "_rstd", rows)) {}
};

template <class T>
struct BlockActs {
  // The MLPs' first layers e_a1 and a3 keep, in .v, their outputs' swish slope, not the outputs
  // (Model::linear_swish); e_s1 and s3 are the activations.
  Act<T> g, e_a1, e_s1;
  Normed<T> g_ln, xq, yk, n_ln;
  View3<T> e_mid, h_mid, h_out;  // stream values; gradients live in the stream's shared buffer
  Act<T> q, kx, vx, ky, vy, dirs, kd, vd, att, a3, s3;
  View3<T> alpha, dscore;
  hk::AttentionTerms<ExecSpace, T> terms() const { return {q.v, kx.v, vx.v, ky.v, vy.v, kd.v, vd.v}; }
  hk::AttentionTerms<ExecSpace, T> term_gradients() const { return {q.g, kx.g, vx.g, ky.g, vy.g, kd.g, vd.g}; }

  // Assigned gradients: block_backward's first writer of each is called with Accumulate::no.
  static constexpr GradStart first = GradStart::assigned;
  // fused: the edge input g and its layer norm run as one kernel (kernels/edge_layernorm.hpp), which
  // keeps g out of memory: no views for g and its gradient. input_layer_fused: the edge input, its
  // layer norm and the edge MLP's first layer run as one kernel each way
  // (kernels/edge_input_forward.hpp, edge_input_backward.hpp), which keep the layer norm's output
  // and its gradient out of memory: of g_ln only the row statistics.
  BlockActs(Allocator<T>& a, const std::string& p, std::int64_t N, std::int64_t E, std::int64_t d, std::int64_t H,
            bool fused, bool input_layer_fused)
      : g(fused ? Act<T>() : a.act(p + "g", E, 3 * d, first)), e_a1(a.act(p + "e_a1", E, 2 * d, first)),
        e_s1(a.act(p + "e_s1", E, 2 * d, GradStart::none)),
        g_ln(input_layer_fused ? Normed<T>(a, p + "g_ln", E) : Normed<T>(a, p + "g_ln", E, 3 * d, first)),
        xq(a, p + "xq", N, d, first),
        yk(a, p + "yk", E, d, first), n_ln(a, p + "n_ln", N, d, first),
        e_mid(a.view(p + "e_mid", E, d)), h_mid(a.view(p + "h_mid", N, d)), h_out(a.view(p + "h_out", N, d)),
        q(a.act(p + "q", N, d)), kx(a.act(p + "kx", N, d)), vx(a.act(p + "vx", N, d)), ky(a.act(p + "ky", E, d, first)),
        vy(a.act(p + "vy", E, d, first)), dirs(a.act(p + "dirs", 2, d)), kd(a.act(p + "kd", 2, d)),
        vd(a.act(p + "vd", 2, d)), att(a.act(p + "att", N, d, first)), a3(a.act(p + "a3", N, 2 * d, first)),
        s3(a.act(p + "s3", N, 2 * d, GradStart::none)),
        alpha(a.view(p + "alpha", 2 * E, H)), dscore(a.view(p + "dscore", 2 * E, H)) {}
};

template <class T>
struct LatentActs {
  Act<T> cat, post, prior, z;
  Normed<T> cat_ln, prior_ln;
  View3<T> sigma, eps, after;  // `after` = state + inject(z): the stream value after this level
  Kokkos::View<double**, Kokkos::LayoutRight, MemSpace> kl_rows;
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> exp_rho;  // e^−|ρ| of the posterior, for backward

  // Assigned gradients: latent_backward's first writer of each is called with Accumulate::no.
  static constexpr GradStart first = GradStart::assigned;
  // fused: the concatenation and its layer norm run as one kernel (kernels/concat_layernorm.hpp),
  // which keeps the concatenation out of memory: no views for cat and its gradient.
  LatentActs(Allocator<T>& a, const std::string& p, std::int64_t R, std::int64_t d, std::int64_t k, bool learned,
             bool fused)
      : cat(fused ? Act<T>() : a.act(p + "cat", R, 2 * d, first)), post(a.act(p + "post", R, 2 * k)),
        z(a.act(p + "z", R, k, first)),
        cat_ln(a, p + "cat_ln", R, 2 * d, first), sigma(a.view(p + "sigma", R, k)), eps(a.view(p + "eps", R, k)),
        after(a.view(p + "after", R, d)),
        kl_rows(a.template make<decltype(kl_rows)>(p + "kl_rows", a.batch, R)),
        exp_rho(a.template make<decltype(exp_rho)>(p + "exp_rho", a.batch, R, k)) {
    if (learned) {
      prior = a.act(p + "prior", R, 2 * k);
      prior_ln = Normed<T>(a, p + "prior_ln", R, d);
    }
  }
};

}  // namespace

template <class T>
struct Model<T>::Impl {
  using E = ExecSpace;
  const HypernetLayout& L;
  std::int64_t B, n, m, S, N, Edges, d, H, k;
  kernels::InputKind input;
  kernels::NormKind norm;
  E exec;
  Graph graph;
  Allocator<T> alloc;
  View1<int> direction_types;  // [0, 1]: the rows of D_in, D_out

  // β conditioning
  View1<T> u;
  View2<T> phi, dphi, phi_a1, phi_a2, P, dP;
  // The running block's A_k and A_v (weights, then bias) with head-interleaved output columns.
  View2<T> kv_heads;
  View3<double> dphi_partials;  // [B][chunks of U's rows][dφ]: workspace of dφ's sums
  // Constant inputs: identity features per node and per edge's endpoints (model.md §4).
  View3<T> r_nodes, r_edges;
  // Encoder: start states and the state after each block (ĥ^ℓ, ê^ℓ).
  Act<T> enc_h0, enc_e0;
  std::vector<BlockActs<T>> enc_blocks, dec_blocks;
  View3<T> enc_dh, enc_de, dec_dh, dec_de;           // stream gradients
  std::vector<View3<T>> enc_extra_dh, enc_extra_de;  // dJ/dĥ^ℓ, dJ/dê^ℓ from the latents
  Act<T> dec_h0, dec_e0;
  std::vector<LatentActs<T>> node_latents, edge_latents;
  // Read-out.
  Act<T> e_w0, e_w1, h_b0, h_b1, raw_w0, raw_w1, raw_b0, raw_b1, bil_a, bil_b;
  Normed<T> ln_w0, ln_w1, ln_b0, ln_b1, ln_bil;
  // Generated networks and their task.
  View3<T> w0, dw0, x, z, dz;
  View2<T> b0, db0, w1, dw1, y, pred;
  View1<T> b1, db1;
  Kokkos::View<double*, Kokkos::LayoutRight, MemSpace> loss, dloss, kl, dkl;
  // Their host copies, made once: on a GPU, create_mirror_view in a step would allocate host
  // memory every step (on the host backend a mirror is the view itself).
  typename View1<T>::HostMirror u_host;
  typename decltype(loss)::HostMirror loss_host, dloss_host, kl_host, dkl_host;
  // What the last forward was given, for backward.
  StepInputs last;
  bool last_evaluated = false;
  double flops = 0.0;
  bool fuse_edge_layernorm = false;  // kernels/edge_layernorm.hpp: where a network per thread allows it
  bool fuse_edge_input_layer = false;  // kernels/edge_input_{forward,backward}.hpp: 4 networks per host thread
  bool fuse_latent_concat = false;  // kernels/concat_layernorm.hpp: where a network per thread allows it

  // arenas: the gradient arenas' sizes from a counting pass (ignored when counting).
  Impl(const HypernetLayout& layout, std::int64_t batch, std::int64_t n_, std::int64_t m_, std::int64_t samples,
       kernels::InputKind input_, kernels::NormKind norm_, bool counting = false, ArenaSizes arenas = {})
      : L(layout), B(batch), n(n_), m(m_), S(samples), N(n_ + m_ + 1), Edges(n_ * m_ + m_), d(layout.shape.d),
        H(layout.shape.heads), k(layout.shape.latent), input(input_), norm(norm_), alloc{batch, counting, 0, {}, {}} {
    const ModelShape& s = L.shape;
    const std::int64_t p = L.p(), dphi_ = s.phi_dim, dr = s.identity_dim;
    if (!counting) alloc.open_arenas(arenas);
    graph = alloc.graph(n, m);
    direction_types = alloc.template make<View1<int>>("direction_types", 2);
    if (!counting) {
      auto hd = Kokkos::create_mirror_view(direction_types);
      hd(0) = 0, hd(1) = 1;
      Kokkos::deep_copy(direction_types, hd);
    }

    u = alloc.template make<View1<T>>("u", B);
    phi = alloc.view2("phi", dphi_);
    dphi = alloc.grad2(dphi_);
    dphi_partials = alloc.template make<View3<double>>("dphi_partials", B, kernels::generate_parameters_chunks(p), dphi_);
    phi_a1 = alloc.view2("phi_a1", s.phi_hidden);
    phi_a2 = alloc.view2("phi_a2", s.phi_hidden);
    P = alloc.view2("P", p);
    kv_heads = alloc.view2("kv_heads", 2 * (d + 1) * d);
    dP = alloc.grad2(p);

    r_nodes = alloc.view("r_nodes", N, dr);
    r_edges = alloc.view("r_edges", Edges, 2 * dr);
    const bool drawn_per_step =
        s.identity_draw == IdentityDraw::per_network || s.identity_draw == IdentityDraw::shifted;
    if (!counting && !drawn_per_step) fill_identity_features();

    enc_h0 = alloc.act("enc_h0", N, d, GradStart::none);
    enc_e0 = alloc.act("enc_e0", Edges, d, GradStart::none);
    dec_h0 = alloc.act("dec_h0", N, d, GradStart::none);
    dec_e0 = alloc.act("dec_e0", Edges, d, GradStart::none);
    enc_dh = alloc.grad(N, d), enc_de = alloc.grad(Edges, d);
    dec_dh = alloc.grad(N, d), dec_de = alloc.grad(Edges, d);
    const bool learned = s.prior == Prior::learned;
    fuse_edge_layernorm = hk::edge_layernorm_fused(exec, B);
    fuse_edge_input_layer = hk::edge_input_backward_fused(exec, B);
    fuse_latent_concat = hk::concat_layernorm_fused(exec, B);
    for (std::int64_t l = 0; l < s.blocks; ++l) {
      const std::string level = std::to_string(l);
      enc_blocks.emplace_back(alloc, "enc" + level + "_", N, Edges, d, H, fuse_edge_layernorm, fuse_edge_input_layer);
      dec_blocks.emplace_back(alloc, "dec" + level + "_", N, Edges, d, H, fuse_edge_layernorm, fuse_edge_input_layer);
      enc_extra_dh.push_back(alloc.grad(N, d));
      enc_extra_de.push_back(alloc.grad(Edges, d));
      node_latents.emplace_back(alloc, "lat" + level + "_nodes_", N, d, k, learned, fuse_latent_concat);
      edge_latents.emplace_back(alloc, "lat" + level + "_edges_", Edges, d, k, learned, fuse_latent_concat);
    }

    // The read-out's assigned gradients: backward's first writer of each is called with Accumulate::no.
    constexpr GradStart first = GradStart::assigned;
    e_w0 = alloc.act("e_w0", n * m, d, first), e_w1 = alloc.act("e_w1", m, d, first);
    h_b0 = alloc.act("h_b0", m, d, first), h_b1 = alloc.act("h_b1", 1, d, first);
    ln_w0 = Normed<T>(alloc, "ln_w0", n * m, d, first), ln_w1 = Normed<T>(alloc, "ln_w1", m, d, first);
    ln_b0 = Normed<T>(alloc, "ln_b0", m, d, first), ln_b1 = Normed<T>(alloc, "ln_b1", 1, d, first);
    raw_w0 = alloc.act("raw_w0", n * m, 1), raw_w1 = alloc.act("raw_w1", m, 1);
    raw_b0 = alloc.act("raw_b0", m, 1), raw_b1 = alloc.act("raw_b1", 1, 1);
    if (s.readout == Readout::edge_bilinear) {
      ln_bil = Normed<T>(alloc, "ln_bil", N, d, first);
      bil_a = alloc.act("bil_a", N, d), bil_b = alloc.act("bil_b", N, d);
    }

    w0 = alloc.view("w0", n, m), dw0 = alloc.grad(n, m);
    b0 = alloc.view2("b0", m), db0 = alloc.grad2(m), w1 = alloc.view2("w1", m), dw1 = alloc.grad2(m);
    b1 = alloc.template make<View1<T>>("b1", B);
    {
      const View3<T> v = alloc.grad(1, 1);
      db1 = counting ? View1<T>() : View1<T>(v.data(), B);
    }
    x = alloc.view("x", S, n), z = alloc.view("z", S, m), dz = alloc.view("dz", S, m);
    y = alloc.view2("y", S), pred = alloc.view2("pred", S);
    using Doubles = decltype(loss);
    loss = alloc.template make<Doubles>("loss", B), dloss = alloc.template make<Doubles>("dloss", B);
    kl = alloc.template make<Doubles>("kl", B), dkl = alloc.template make<Doubles>("dkl", B);
    if (!counting) {
      u_host = Kokkos::create_mirror_view(u);
      loss_host = Kokkos::create_mirror_view(loss), dloss_host = Kokkos::create_mirror_view(dloss);
      kl_host = Kokkos::create_mirror_view(kl), dkl_host = Kokkos::create_mirror_view(dkl);
    }
    if (counting) alloc.open_arenas(alloc.arena_sizes());
  }

  // The fixed or positional r_v of model.md §4 (fixed_identity_features), broadcast to every
  // network of the batch.
  void fill_identity_features() {
    const ModelShape& s = L.shape;
    const std::int64_t dr = s.identity_dim;
    const HostGraph hg = build_host_graph(n, m);
    auto hn = Kokkos::create_mirror_view(r_nodes);
    auto he = Kokkos::create_mirror_view(r_edges);
    const std::vector<double> feature = fixed_identity_features(s, hg);
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t v = 0; v < N; ++v)
        for (std::int64_t c = 0; c < dr; ++c) hn(b, v, c) = static_cast<T>(feature[v * dr + c]);
      for (std::int64_t e = 0; e < Edges; ++e)
        for (std::int64_t c = 0; c < dr; ++c) {
          he(b, e, c) = static_cast<T>(feature[hg.edge_source(e) * dr + c]);
          he(b, e, dr + c) = static_cast<T>(feature[hg.edge_target(e) * dr + c]);
        }
    }
    Kokkos::deep_copy(r_nodes, hn);
    Kokkos::deep_copy(r_edges, he);
  }

  // ---- small wrappers that read the layout's offsets ----
  void layernorm(Normed<T>& out, const View3<T>& in, const LayerNormOffsets& o) {
    hk::layernorm_forward(exec, out.out.v, out.mean, out.rstd, in, P, o.gain, o.bias);
  }
  // Backward wrappers add to din; Add::no assigns it (din's first writer, GradStart::assigned).
  void layernorm_back(const View3<T>& din, Normed<T>& out, const View3<T>& in, const LayerNormOffsets& o,
                      Add mode = Add::yes) {
    hk::layernorm_backward(exec, din, dP, out.out.g, in, P, out.mean, out.rstd, o.gain, o.bias, mode);
  }
  void linear(const View3<T>& out, const View3<T>& in, const LinearOffsets& o, Add mode = Add::no,
              Bias bias = Bias::apply) {
    flops += 2.0 * static_cast<double>(B * in.extent(1) * o.in * o.out);
    hk::linear_forward(exec, out, in, P, o.w, bias == Bias::apply ? o.b : -1, mode);
  }
  // out = residual + in·W + bias: a residual branch joining its stream.
  void linear_residual(const View3<T>& out, const View3<T>& residual, const View3<T>& in, const LinearOffsets& o) {
    flops += 2.0 * static_cast<double>(B * in.extent(1) * o.in * o.out);
    hk::linear_forward(exec, out, in, P, o.w, o.b, Add::no, residual);
  }
  // A_k and A_v of the block about to run, with their output columns head-interleaved (the layout
  // of kernels/attention.hpp's key and value terms), into kv_heads.
  void interleave_key_value_weights(const BlockOffsets& o) {
    hk::interleave_head_columns(exec, kv_heads, 0, P, o.a_k.w, o.a_k.b, d, d, static_cast<int>(H));
    hk::interleave_head_columns(exec, kv_heads, (d + 1) * d, P, o.a_v.w, o.a_v.b, d, d, static_cast<int>(H));
  }
  // The key (which = 0) or value (1) projection through kv_heads: head-interleaved outputs with the
  // bits of the projection through A_k, A_v themselves (the same sums). Their backward goes through
  // A_k, A_v, since the gradients keep the usual layout.
  void linear_heads(const View3<T>& out, const View3<T>& in, int which, Bias bias) {
    flops += 2.0 * static_cast<double>(B * in.extent(1) * d * d);
    const std::int64_t w = which * (d + 1) * d;
    hk::linear_forward(exec, out, in, kv_heads, w, bias == Bias::apply ? w + d * d : -1, Add::no);
  }
  void linear_back(const View3<T>& din, const View3<T>& dout, const View3<T>& in, const LinearOffsets& o,
                   Bias bias = Bias::apply, Add mode = Add::yes) {
    hk::linear_backward(exec, din, dP, dout, in, P, o.w, bias == Bias::apply ? o.b : -1, mode);
  }
  // An MLP's swish between two layers, fused into them: with pre = in·W + b, act = swish(pre) and
  // pre.v = swish′(pre) (all the backward needs of pre) in one pass; backward, the second layer's
  // dx goes through that slope straight into pre.g = dJ/dpre (assigned).
  void linear_swish(const Act<T>& pre, const Act<T>& act, const View3<T>& in, const LinearOffsets& o) {
    flops += 2.0 * static_cast<double>(B * in.extent(1) * o.in * o.out);
    hk::linear_swish_forward(exec, act.v, pre.v, in, P, o.w, o.b);
  }
  void linear_back_through_swish(const Act<T>& pre, const View3<T>& dout, const Act<T>& act, const LinearOffsets& o) {
    hk::linear_backward(exec, pre.g, dP, dout, act.v, P, o.w, o.b, Add::no, pre.v);
  }

  // One read-out head's linear layer and layer norm, backward; both gradients are assigned.
  void readout_head_back(Normed<T>& ln, const Act<T>& raw, const Act<T>& rows, const LinearOffsets& o,
                         const LayerNormOffsets& o_ln) {
    linear_back(ln.out.g, raw.g, ln.out.v, o, Bias::apply, Add::no);
    layernorm_back(rows.g, ln, rows.v, o_ln, Add::no);
  }

  // ---- graph-transformer block (model.md §5.1) ----
  // The edge MLP on the layer norm of the edge input [e ; h_s ; h_t], its output joining the edge
  // stream: e_mid = e_in + MLP(LN(g)).
  void edge_mlp_forward(BlockActs<T>& a, const BlockOffsets& o, const View3<T>& h_in, const View3<T>& e_in) {
    if (fuse_edge_input_layer) {
      for (const LinearOffsets& layer : {o.edge_mlp1, o.edge_mlp2})
        flops += 2.0 * static_cast<double>(B * Edges * layer.in * layer.out);
      hk::edge_input_forward(exec, a.e_s1.v, a.e_a1.v, a.g_ln.mean, a.g_ln.rstd, e_in, h_in, graph, P,
                             o.ln_edge.gain, o.ln_edge.bias, o.edge_mlp1.w, o.edge_mlp1.b,
                             hk::EdgeMlpSecondLayer<ExecSpace, T>{a.e_mid, e_in, o.edge_mlp2.w, o.edge_mlp2.b});
      return;
    }
    if (fuse_edge_layernorm) {
      hk::edge_inputs_layernorm_forward(exec, a.g_ln.out.v, a.g_ln.mean, a.g_ln.rstd, e_in, h_in, graph, P,
                                        o.ln_edge.gain, o.ln_edge.bias);
    } else {
      hk::edge_inputs_forward(exec, a.g.v, e_in, h_in, graph);
      layernorm(a.g_ln, a.g.v, o.ln_edge);
    }
    linear_swish(a.e_a1, a.e_s1, a.g_ln.out.v, o.edge_mlp1);
    linear_residual(a.e_mid, e_in, a.e_s1.v, o.edge_mlp2);
  }

  void block_forward(BlockActs<T>& a, const BlockOffsets& o, const View3<T>& h_in, const View3<T>& e_in) {
    edge_mlp_forward(a, o, h_in, e_in);

    layernorm(a.xq, h_in, o.ln_q);
    layernorm(a.yk, a.e_mid, o.ln_k);
    linear(a.q.v, a.xq.out.v, o.a_q);
    interleave_key_value_weights(o);
    linear_heads(a.kx.v, a.xq.out.v, 0, Bias::skip);
    linear_heads(a.vx.v, a.xq.out.v, 1, Bias::skip);
    linear_heads(a.ky.v, a.yk.out.v, 0, Bias::skip);
    linear_heads(a.vy.v, a.yk.out.v, 1, Bias::skip);
    hk::type_embedding_forward(exec, a.dirs.v, direction_types, P, o.directions, false);
    linear_heads(a.kd.v, a.dirs.v, 0, Bias::apply);  // the biases of A_k, A_v enter once per key/value
    linear_heads(a.vd.v, a.dirs.v, 1, Bias::apply);
    flops += 8.0 * static_cast<double>(B * 2 * Edges * d);  // keys, values, scores, weighted sums
    hk::attention_forward(exec, a.att.v, a.alpha, a.terms(), graph, H);
    linear_residual(a.h_mid, h_in, a.att.v, o.a_o);

    layernorm(a.n_ln, a.h_mid, o.ln_node);
    linear_swish(a.a3, a.s3, a.n_ln.out.v, o.node_mlp1);
    linear_residual(a.h_out, a.h_mid, a.s3.v, o.node_mlp2);
  }

  // dh, de: the streams' shared gradient buffers. On entry they hold dJ/dh_out and dJ/de_out; on
  // exit dJ/dh_in and dJ/de_in. Each branch reads the stream before earlier branches add to it.
  void block_backward(BlockActs<T>& a, const BlockOffsets& o, const View3<T>& h_in, const View3<T>& e_in,
                      const View3<T>& dh, const View3<T>& de) {
    linear_back_through_swish(a.a3, dh, a.s3, o.node_mlp2);
    linear_back(a.n_ln.out.g, a.a3.g, a.n_ln.out.v, o.node_mlp1, Bias::apply, Add::no);
    layernorm_back(dh, a.n_ln, a.h_mid, o.ln_node);

    linear_back(a.att.g, dh, a.att.v, o.a_o, Bias::apply, Add::no);
    hk::attention_backward(exec, a.term_gradients(), a.att.g, a.terms(), a.alpha, a.dscore, graph, H,
                           hk::default_attention_schedule<E>, Add::no);
    linear_back(a.dirs.g, a.kd.g, a.dirs.v, o.a_k);
    linear_back(a.dirs.g, a.vd.g, a.dirs.v, o.a_v);
    hk::type_embedding_backward(exec, dP, a.dirs.g, direction_types, o.directions, 2);
    linear_back(a.yk.out.g, a.ky.g, a.yk.out.v, o.a_k, Bias::skip, Add::no);
    linear_back(a.yk.out.g, a.vy.g, a.yk.out.v, o.a_v, Bias::skip);
    linear_back(a.xq.out.g, a.q.g, a.xq.out.v, o.a_q, Bias::apply, Add::no);
    linear_back(a.xq.out.g, a.kx.g, a.xq.out.v, o.a_k, Bias::skip);
    linear_back(a.xq.out.g, a.vx.g, a.xq.out.v, o.a_v, Bias::skip);
    layernorm_back(de, a.yk, a.e_mid, o.ln_k);
    layernorm_back(dh, a.xq, h_in, o.ln_q);

    linear_back_through_swish(a.e_a1, de, a.e_s1, o.edge_mlp2);
    if (fuse_edge_input_layer) {
      hk::edge_input_backward(exec, de, dh, dP, a.e_a1.g, o.edge_mlp1.w, o.edge_mlp1.b, e_in, h_in, graph, P,
                              a.g_ln.mean, a.g_ln.rstd, o.ln_edge.gain, o.ln_edge.bias);
      return;
    }
    linear_back(a.g_ln.out.g, a.e_a1.g, a.g_ln.out.v, o.edge_mlp1, Bias::apply, Add::no);
    if (fuse_edge_layernorm) {
      hk::edge_inputs_layernorm_backward(exec, de, dh, dP, a.g_ln.out.g, e_in, h_in, graph, P, a.g_ln.mean,
                                         a.g_ln.rstd, o.ln_edge.gain, o.ln_edge.bias);
    } else {
      layernorm_back(a.g.g, a.g_ln, a.g.v, o.ln_edge, Add::no);
      hk::edge_inputs_backward(exec, de, dh, a.g.g, graph);
    }
  }

  // ---- latent channel after decoder block ℓ (model.md §5.3) ----
  hk::LatentOptions latent_options(std::int64_t level, bool edges) const {
    hk::LatentOptions opt;
    opt.sigma = L.shape.sigma == SigmaParam::bounded ? hk::SigmaKind::bounded : hk::SigmaKind::softplus;
    opt.prior_scale = L.shape.prior_scale;
    opt.learned_prior = L.shape.prior == Prior::learned;
    opt.use_mean = last.use_mean;
    opt.seed = last.seed, opt.step = last.step, opt.network_offset = last.network_offset;
    opt.level = static_cast<std::uint64_t>(2 * level + (edges ? 1 : 0));
    opt.row_offset = 0;
    return opt;
  }

  void latent_forward(LatentActs<T>& a, const LatentOffsets& o, const View3<T>& state, const View3<T>& encoded,
                      const View3<T>& identity, std::int64_t level, bool edges) {
    if (fuse_latent_concat) {
      hk::concat_layernorm_forward(exec, a.cat_ln.out.v, a.cat_ln.mean, a.cat_ln.rstd, state, encoded, P,
                                   o.ln_post.gain, o.ln_post.bias);
    } else {
      hk::concat_forward(exec, a.cat.v, state, encoded);
      layernorm(a.cat_ln, a.cat.v, o.ln_post);
    }
    linear(a.post.v, a.cat_ln.out.v, o.post);
    if (o.identity.w >= 0) linear(a.post.v, identity, o.identity, Add::yes);
    if (L.shape.prior == Prior::learned) {
      layernorm(a.prior_ln, state, o.ln_prior);
      linear(a.prior.v, a.prior_ln.out.v, o.prior);
    }
    hk::latent_forward(exec, a.z.v, a.kl_rows, a.sigma, a.eps, a.post.v, a.prior.v, latent_options(level, edges),
                       a.exp_rho);
    hk::kl_sum_forward(exec, kl, a.kl_rows);
    linear_residual(a.after, state, a.z.v, o.inject);
  }

  // dstate: the stream gradient (dJ/d after on entry, dJ/d state on exit); dencoded: dJ/dĥ^ℓ.
  void latent_backward(LatentActs<T>& a, const LatentOffsets& o, const View3<T>& state, const View3<T>& encoded,
                       const View3<T>& identity, const View3<T>& dstate, const View3<T>& dencoded, std::int64_t level,
                       bool edges) {
    linear_back(a.z.g, dstate, a.z.v, o.inject, Bias::apply, Add::no);
    hk::latent_backward(exec, a.post.g, a.prior.g, a.z.g, dkl, a.post.v, a.prior.v, a.sigma, a.eps,
                        latent_options(level, edges), a.exp_rho);
    if (L.shape.prior == Prior::learned) {
      linear_back(a.prior_ln.out.g, a.prior.g, a.prior_ln.out.v, o.prior);
      layernorm_back(dstate, a.prior_ln, state, o.ln_prior);
    }
    if (o.identity.w >= 0) linear_back(View3<T>(), a.post.g, identity, o.identity);
    linear_back(a.cat_ln.out.g, a.post.g, a.cat_ln.out.v, o.post, Bias::apply, Add::no);
    if (fuse_latent_concat) {
      hk::concat_layernorm_backward(exec, dstate, dencoded, dP, a.cat_ln.out.g, state, encoded, P, a.cat_ln.mean,
                                    a.cat_ln.rstd, o.ln_post.gain, o.ln_post.bias);
      return;
    }
    layernorm_back(a.cat.g, a.cat_ln, a.cat.v, o.ln_post, Add::no);
    hk::concat_backward(exec, dstate, dencoded, a.cat.g);
  }

  std::int64_t s_phi_dim() const { return L.shape.phi_dim; }

  // The node and edge streams entering encoder or decoder block l: what its forward reads and its
  // backward reads again.
  struct BlockInputs {
    const View3<T>& h;
    const View3<T>& e;
  };
  BlockInputs encoder_inputs(std::int64_t l) const {
    return l == 0 ? BlockInputs{enc_h0.v, enc_e0.v} : BlockInputs{enc_blocks[l - 1].h_out, enc_blocks[l - 1].e_mid};
  }
  BlockInputs decoder_inputs(std::int64_t l) const {
    return l == 0 ? BlockInputs{dec_h0.v, dec_e0.v} : BlockInputs{node_latents[l - 1].after, edge_latents[l - 1].after};
  }

  const View3<T>& dec_h_final() const { return node_latents.back().after; }
  const View3<T>& dec_e_final() const { return edge_latents.back().after; }

  // Every gradient buffer backward adds to before anything assigns it lives in the zeroed arena.
  void zero_gradients() { clear_arena(exec, alloc.zeroed.memory); }

  View1<T> theta_slice(const View1<T>& theta, std::int64_t offset, std::int64_t size) const {
    return View1<T>(theta.data() + offset, size);
  }
  View2<T> u_matrix(const View1<T>& theta) const {
    return View2<T>(theta.data() + L.theta_u, L.p(), L.shape.phi_dim);
  }
  hk::PhiLayout phi_layout() const {
    hk::PhiLayout p;
    p.h1 = L.shape.phi_hidden, p.h2 = L.shape.phi_hidden, p.dphi = L.shape.phi_dim;
    p.w1 = L.phi_w1, p.b1 = L.phi_b1, p.w2 = L.phi_w2, p.b2 = L.phi_b2, p.w3 = L.phi_w3, p.b3 = L.phi_b3;
    return p;
  }

  StepResult forward(const View1<T>& theta, const StepInputs& in, bool evaluate_task) {
    if (static_cast<std::int64_t>(in.log10_beta.size()) != B)
      throw std::invalid_argument("Model::forward: " + std::to_string(in.log10_beta.size()) + " β values for a batch of " +
                                  std::to_string(B));
    if (theta.extent(0) != static_cast<std::size_t>(L.theta_size()))
      throw std::invalid_argument("Model::forward: θ has the wrong length");
    last = in;
    last_evaluated = evaluate_task;
    flops = 2.0 * static_cast<double>(B * L.p() * s_phi_dim());
    const ModelShape& s = L.shape;

    // β conditioning: u → φ(β) → P(β) = P₀ + U φ(β).
    for (std::int64_t b = 0; b < B; ++b)
      u_host(b) = static_cast<T>(beta_encoding(in.log10_beta[b], s.log10_beta_min, s.log10_beta_max));
    Kokkos::deep_copy(u, u_host);
    const View1<T> Q = theta_slice(theta, L.theta_phi, L.phi_size);
    hk::phi_forward(exec, phi, phi_a1, phi_a2, u, Q, phi_layout());
    hk::generate_parameters_forward(exec, P, theta_slice(theta, L.theta_p0, L.p()), u_matrix(theta), phi);

    // Identity features (model.md §4): fixed ones were filled once; per-network and shifted ones
    // are drawn for these networks (run seed, step, global network index).
    if (s.identity_draw == IdentityDraw::per_network)
      hk::draw_identity_features(exec, r_nodes, r_edges, graph,
                                 {s.identity_seed, in.seed, in.step, in.network_offset, s.identity_scale});
    if (s.identity_draw == IdentityDraw::shifted)
      hk::shifted_identity_features(exec, r_nodes, r_edges, graph,
                                    {s.identity_seed, in.seed, in.step, in.network_offset, s.identity_scale,
                                     s.identity_shift, m / n, in.shift_identity});

    // Encoder (posterior path): ĥ = T̂_type + A_r r_v, ê = Ŝ_type.
    hk::type_embedding_forward(exec, enc_h0.v, graph.node_type, P, L.enc_node_type, false);
    linear(enc_h0.v, r_nodes, L.enc_identity, Add::yes);
    hk::type_embedding_forward(exec, enc_e0.v, graph.edge_type, P, L.enc_edge_type, false);
    for (std::int64_t l = 0; l < s.blocks; ++l) {
      const BlockInputs streams = encoder_inputs(l);
      block_forward(enc_blocks[l], L.encoder[l], streams.h, streams.e);
    }

    // Decoder (generative path) with a latent channel after every block.
    Kokkos::deep_copy(exec, kl, 0.0);
    hk::type_embedding_forward(exec, dec_h0.v, graph.node_type, P, L.dec_node_type, false);
    hk::type_embedding_forward(exec, dec_e0.v, graph.edge_type, P, L.dec_edge_type, false);
    for (std::int64_t l = 0; l < s.blocks; ++l) {
      const BlockInputs streams = decoder_inputs(l);
      block_forward(dec_blocks[l], L.decoder[l], streams.h, streams.e);
      latent_forward(node_latents[l], L.node_latents[l], dec_blocks[l].h_out, enc_blocks[l].h_out, r_nodes, l, false);
      latent_forward(edge_latents[l], L.edge_latents[l], dec_blocks[l].e_mid, enc_blocks[l].e_mid, r_edges, l, true);
    }

    // Read-out (model.md §5.4).
    const ReadoutOffsets& ro = L.readout;
    const View3<T>& hf = dec_h_final();
    const View3<T>& ef = dec_e_final();
    hk::copy_rows_forward(exec, e_w0.v, ef, 0);
    hk::copy_rows_forward(exec, e_w1.v, ef, n * m);
    hk::copy_rows_forward(exec, h_b0.v, hf, n);
    hk::copy_rows_forward(exec, h_b1.v, hf, n + m);
    layernorm(ln_w0, e_w0.v, ro.ln_w0), linear(raw_w0.v, ln_w0.out.v, ro.w0);
    layernorm(ln_w1, e_w1.v, ro.ln_w1), linear(raw_w1.v, ln_w1.out.v, ro.w1);
    layernorm(ln_b0, h_b0.v, ro.ln_b0), linear(raw_b0.v, ln_b0.out.v, ro.b0);
    layernorm(ln_b1, h_b1.v, ro.ln_b1), linear(raw_b1.v, ln_b1.out.v, ro.b1);
    if (ro.bil_a.w >= 0) {
      layernorm(ln_bil, hf, ro.ln_bilinear);
      linear(bil_a.v, ln_bil.out.v, ro.bil_a, Add::no, Bias::skip);
      linear(bil_b.v, ln_bil.out.v, ro.bil_b, Add::no, Bias::skip);
    }
    hk::readout_forward(exec, {w0, b0, w1, b1}, {raw_w0.v, raw_w1.v, raw_b0.v, raw_b1.v, bil_a.v, bil_b.v}, P, ro.gamma);

    StepResult result;
    Kokkos::deep_copy(kl_host, kl);
    result.kl.assign(kl_host.data(), kl_host.data() + B);
    if (!evaluate_task) return result;

    hk::TaskDataKeys keys;
    keys.seed = in.seed, keys.step = in.step, keys.network_offset = in.network_offset;
    hk::task_data_forward(exec, x, y, keys, input, norm);
    hk::generated_mlp_forward(exec, loss, z, pred, x, y, w0, b0, w1, b1);
    flops += 2.0 * static_cast<double>(B * S * n * m) + 8.0 * static_cast<double>(B * S * m);
    Kokkos::deep_copy(loss_host, loss);
    result.loss.assign(loss_host.data(), loss_host.data() + B);

    // The objective (model.md §7) and its gradient with respect to each network's L and D_KL.
    const double variance = target_variance(input, norm, n);
    const double total = in.batch_total > 0 ? static_cast<double>(in.batch_total) : static_cast<double>(B);
    for (std::int64_t b = 0; b < B; ++b) {
      const double beta = std::pow(10.0, in.log10_beta[b]) * in.kl_factor;
      const double Lb = result.loss[b], Kb = result.kl[b];
      double term = 0, dL = 0, dK = 0;
      switch (in.objective) {
        case Objective::log_sum: term = std::log(Lb + beta * Kb), dL = 1.0 / (Lb + beta * Kb), dK = beta * dL; break;
        case Objective::sum: term = Lb + beta * Kb, dL = 1.0, dK = beta; break;
        case Objective::log_loss: term = std::log(Lb) + beta * Kb, dL = 1.0 / Lb, dK = beta; break;
      }
      result.objective_terms.push_back(term);
      result.normalised.push_back(variance > 0 ? Lb / variance : Lb);
      result.objective += term / total;
      dloss_host(b) = dL / total;
      dkl_host(b) = dK / total;
    }
    Kokkos::deep_copy(dloss, dloss_host);
    Kokkos::deep_copy(dkl, dkl_host);
    return result;
  }

  void backward(const View1<T>& theta, const View1<T>& dtheta) {
    if (!last_evaluated) throw std::logic_error("Model::backward needs a forward that evaluated the task");
    const ModelShape& s = L.shape;
    zero_gradients();

    hk::generated_mlp_backward(exec, dw0, db0, dw1, db1, dloss, x, y, w1, z, pred, dz);
    const ReadoutOffsets& ro = L.readout;
    hk::readout_backward(exec, {raw_w0.g, raw_w1.g, raw_b0.g, raw_b1.g, bil_a.g, bil_b.g}, dP, {dw0, db0, dw1, db1},
                         {raw_w0.v, raw_w1.v, raw_b0.v, raw_b1.v, bil_a.v, bil_b.v}, P, ro.gamma);
    const View3<T>& hf = dec_h_final();
    if (ro.bil_a.w >= 0) {
      linear_back(ln_bil.out.g, bil_a.g, ln_bil.out.v, ro.bil_a, Bias::skip, Add::no);
      linear_back(ln_bil.out.g, bil_b.g, ln_bil.out.v, ro.bil_b, Bias::skip);
      layernorm_back(dec_dh, ln_bil, hf, ro.ln_bilinear);
    }
    readout_head_back(ln_w0, raw_w0, e_w0, ro.w0, ro.ln_w0);
    readout_head_back(ln_w1, raw_w1, e_w1, ro.w1, ro.ln_w1);
    readout_head_back(ln_b0, raw_b0, h_b0, ro.b0, ro.ln_b0);
    readout_head_back(ln_b1, raw_b1, h_b1, ro.b1, ro.ln_b1);
    hk::copy_rows_backward(exec, dec_de, e_w0.g, 0);
    hk::copy_rows_backward(exec, dec_de, e_w1.g, n * m);
    hk::copy_rows_backward(exec, dec_dh, h_b0.g, n);
    hk::copy_rows_backward(exec, dec_dh, h_b1.g, n + m);

    for (std::int64_t l = s.blocks - 1; l >= 0; --l) {
      BlockActs<T>& a = dec_blocks[l];
      latent_backward(edge_latents[l], L.edge_latents[l], a.e_mid, enc_blocks[l].e_mid, r_edges, dec_de,
                      enc_extra_de[l], l, true);
      latent_backward(node_latents[l], L.node_latents[l], a.h_out, enc_blocks[l].h_out, r_nodes, dec_dh,
                      enc_extra_dh[l], l, false);
      const BlockInputs streams = decoder_inputs(l);
      block_backward(a, L.decoder[l], streams.h, streams.e, dec_dh, dec_de);
    }
    hk::type_embedding_backward(exec, dP, dec_dh, graph.node_type, L.dec_node_type, 3);
    hk::type_embedding_backward(exec, dP, dec_de, graph.edge_type, L.dec_edge_type, 2);

    for (std::int64_t l = s.blocks - 1; l >= 0; --l) {
      hk::add_into(exec, enc_dh, enc_extra_dh[l]);
      hk::add_into(exec, enc_de, enc_extra_de[l]);
      const BlockInputs streams = encoder_inputs(l);
      block_backward(enc_blocks[l], L.encoder[l], streams.h, streams.e, enc_dh, enc_de);
    }
    linear_back(View3<T>(), enc_dh, r_nodes, L.enc_identity);
    hk::type_embedding_backward(exec, dP, enc_dh, graph.node_type, L.enc_node_type, 3);
    hk::type_embedding_backward(exec, dP, enc_de, graph.edge_type, L.enc_edge_type, 2);

    hk::generate_parameters_backward(exec, theta_slice(dtheta, L.theta_p0, L.p()), u_matrix(dtheta), dphi, dP,
                                     u_matrix(theta), phi, dphi_partials);
    hk::phi_backward(exec, theta_slice(dtheta, L.theta_phi, L.phi_size), dphi, u,
                     theta_slice(theta, L.theta_phi, L.phi_size), phi_a1, phi_a2, phi_layout());
  }

  std::vector<HostNetwork> networks() const {
    auto hw0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w0);
    auto hb0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b0);
    auto hw1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w1);
    auto hb1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b1);
    std::vector<HostNetwork> nets;
    for (std::int64_t b = 0; b < B; ++b) {
      HostNetwork net(n, m);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < m; ++j) net.weight0(i, j) = static_cast<float>(hw0(b, i, j));
      for (std::int64_t j = 0; j < m; ++j) net.b0[j] = static_cast<float>(hb0(b, j)), net.w1[j] = static_cast<float>(hw1(b, j));
      net.b1 = static_cast<float>(hb1(b));
      nets.push_back(std::move(net));
    }
    return nets;
  }
};

template <class T>
Model<T>::Model(const HypernetLayout& layout, std::int64_t batch, std::int64_t n, std::int64_t m, std::int64_t samples,
                kernels::InputKind input, kernels::NormKind norm)
    : impl_(std::make_unique<Impl>(layout, batch, n, m, samples, input, norm, /*counting=*/false,
                                   Impl(layout, batch, n, m, samples, input, norm, /*counting=*/true).alloc.arena_sizes())) {}
template <class T>
Model<T>::~Model() = default;
template <class T>
StepResult Model<T>::forward(const View1<T>& theta, const StepInputs& inputs, bool evaluate_task) {
  return impl_->forward(theta, inputs, evaluate_task);
}
template <class T>
void Model<T>::backward(const View1<T>& theta, const View1<T>& dtheta) {
  impl_->backward(theta, dtheta);
}
template <class T>
std::vector<HostNetwork> Model<T>::networks() const {
  return impl_->networks();
}
template <class T>
double Model<T>::forward_flops() const {
  return impl_->flops;
}
template <class T>
std::size_t Model<T>::workspace_bytes() const {
  return impl_->alloc.bytes;
}
template <class T>
std::size_t Model<T>::estimate_bytes(const HypernetLayout& layout, std::int64_t batch, std::int64_t n,
                                     std::int64_t m, std::int64_t samples) {
  return Impl(layout, batch, n, m, samples, kernels::InputKind::normal, kernels::NormKind::l1, /*counting=*/true)
      .alloc.bytes;
}
template <class T>
std::int64_t Model<T>::batch() const {
  return impl_->B;
}
template <class T>
const HypernetLayout& Model<T>::layout() const {
  return impl_->L;
}

template class Model<float>;
template class Model<double>;

}  // namespace hnet
