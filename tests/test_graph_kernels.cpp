// The graph kernels against naive host references (double), and their determinism: two runs give
// identical bits, and a batch gives each member the bits it gets when run alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hnet/graph.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/identity_features.hpp"
#include "kernels/attention.hpp"
#include "kernels/beta_conditioning.hpp"
#include "kernels/identity.hpp"
#include "kernels/latent.hpp"
#include "kernels/readout.hpp"
#include "view_utils.hpp"

namespace {
namespace hk = hnet::kernels;
using hnet::testing::from_vector;
using hnet::testing::to_vector;
using Vec = std::vector<double>;
using Outputs = std::vector<Vec>;

Vec random_vector(std::size_t size, unsigned seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Vec v(size);
  for (double& x : v) x = normal(rng);
  return v;
}

template <class T>
hnet::View1<T> view(const std::string& label, const Vec& values, std::int64_t a) {
  hnet::View1<T> v(label, a);
  from_vector(v, values);
  return v;
}
template <class T>
hnet::View2<T> view(const std::string& label, const Vec& values, std::int64_t a, std::int64_t b) {
  hnet::View2<T> v(label, a, b);
  from_vector(v, values);
  return v;
}
template <class T>
hnet::View3<T> view(const std::string& label, const Vec& values, std::int64_t a, std::int64_t b, std::int64_t c) {
  hnet::View3<T> v(label, a, b, c);
  from_vector(v, values);
  return v;
}

// Member b's block of a flat [B]-major vector.
Vec member(const Vec& v, std::int64_t batch, std::int64_t b) {
  const std::size_t block = v.size() / batch;
  return Vec(v.begin() + b * block, v.begin() + (b + 1) * block);
}

void expect_near(const Vec& got, const Vec& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < got.size(); ++k)
    EXPECT_NEAR(got[k], want[k], tol * (1 + std::fabs(want[k]))) << what << "[" << k << "]";
}

void expect_bits(const Vec& got, const Vec& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)), 0) << what;
}

// run(B, first, inputs) runs members first .. first + B − 1 of a batch on the [B]-major inputs;
// its first `per_member` outputs are [B]-major too. Checks that two runs agree bitwise and that
// each member alone reproduces its block of the batch run.
void expect_deterministic(const std::function<Outputs(std::int64_t, std::int64_t, const Outputs&)>& run,
                          const Outputs& inputs, std::int64_t batch, std::size_t per_member) {
  const Outputs first = run(batch, 0, inputs), second = run(batch, 0, inputs);
  for (std::size_t k = 0; k < first.size(); ++k) expect_bits(first[k], second[k], "rerun");
  for (std::int64_t b = 0; b < batch; ++b) {
    Outputs alone_inputs;
    for (const Vec& v : inputs) alone_inputs.push_back(member(v, batch, b));
    const Outputs alone = run(1, b, alone_inputs);
    for (std::size_t k = 0; k < per_member; ++k) expect_bits(alone[k], member(first[k], batch, b), "member alone");
  }
}

// ---------------------------------------------------------------------------------------------
// Attention. Inputs: q, kx, vx, ky, vy, kd, vd, dout. Outputs: out, alpha, every gradient, dJ/dscore.

template <class T>
Outputs run_attention(const hnet::Graph& graph, std::int64_t B, std::int64_t d, int heads, const Outputs& in,
                      hk::AttentionSchedule schedule = hk::default_attention_schedule<hnet::ExecSpace>) {
  const std::int64_t N = graph.nodes, E = graph.edges;
  using V3 = hnet::View3<T>;
  const V3 q = view<T>("q", in[0], B, N, d), kx = view<T>("kx", in[1], B, N, d), vx = view<T>("vx", in[2], B, N, d);
  const V3 ky = view<T>("ky", in[3], B, E, d), vy = view<T>("vy", in[4], B, E, d);
  const V3 kd = view<T>("kd", in[5], B, 2, d), vd = view<T>("vd", in[6], B, 2, d),
           dout = view<T>("dout", in[7], B, N, d);
  V3 out("out", B, N, d), alpha("alpha", B, 2 * E, heads), dscore("dscore", B, 2 * E, heads);
  V3 dq("dq", B, N, d), dkx("dkx", B, N, d), dvx("dvx", B, N, d), dky("dky", B, E, d), dvy("dvy", B, E, d);
  V3 dkd("dkd", B, 2, d), dvd("dvd", B, 2, d);
  hnet::ExecSpace exec;
  hk::attention_forward(exec, out, alpha, {q, kx, vx, ky, vy, kd, vd}, graph, heads, schedule);
  hk::attention_backward(exec, {dq, dkx, dvx, dky, dvy, dkd, dvd}, dout, {q, kx, vx, ky, vy, kd, vd}, alpha, dscore,
                         graph, heads, schedule);
  return {to_vector(out), to_vector(alpha), to_vector(dq),  to_vector(dkx), to_vector(dvx),
          to_vector(dky), to_vector(dvy),   to_vector(dkd), to_vector(dvd), to_vector(dscore)};
}

Outputs attention_inputs(const hnet::Graph& graph, std::int64_t B, std::int64_t d, unsigned seed) {
  const std::size_t nodes = B * graph.nodes * d, edges = B * graph.edges * d, dirs = B * 2 * d;
  return {random_vector(nodes, seed),     random_vector(nodes, seed + 1), random_vector(nodes, seed + 2),
          random_vector(edges, seed + 3), random_vector(edges, seed + 4), random_vector(dirs, seed + 5),
          random_vector(dirs, seed + 6),  random_vector(nodes, seed + 7)};
}

}  // namespace

TEST(GraphAttention, ForwardMatchesHostReference) {
  const std::int64_t n = 3, m = 4, B = 2, d = 6;
  const int H = 3;
  const std::int64_t dh = d / H;
  const auto graph = hnet::build_graph(n, m);
  const auto host = hnet::build_host_graph(n, m);
  const std::int64_t N = host.nodes, E = host.edges;
  const Outputs in = attention_inputs(graph, B, d, 100);
  Outputs interleaved = in;  // the kernel reads the key and value terms head-interleaved
  for (int k = 1; k <= 6; ++k) interleaved[k] = hnet::testing::head_interleaved(in[k], d, H);
  const Outputs got = run_attention<double>(graph, B, d, H, interleaved);

  // model.md §5.1 read directly: every edge touching v, in edge order, with its other end and direction.
  auto node = [d](const Vec& x, std::int64_t rows, std::int64_t b, std::int64_t r, std::int64_t c) {
    return x[(b * rows + r) * d + c];
  };
  Vec out(B * N * d), alpha(B * 2 * E * H);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t v = 0; v < N; ++v)
      for (std::int64_t h = 0; h < H; ++h) {
        std::vector<std::int64_t> touching;
        for (std::int64_t e = 0; e < E; ++e)
          if (host.edge_source(e) == v || host.edge_target(e) == v) touching.push_back(e);
        Vec score;
        for (std::int64_t e : touching) {
          const bool incoming = host.edge_target(e) == v;
          const std::int64_t u = incoming ? host.edge_source(e) : host.edge_target(e), dir = incoming ? 0 : 1;
          double s = 0;
          for (std::int64_t c = h * dh; c < (h + 1) * dh; ++c)
            s += node(in[0], N, b, v, c) *
                 (node(in[1], N, b, u, c) + node(in[3], E, b, e, c) + node(in[5], 2, b, dir, c));
          score.push_back(s / std::sqrt(double(dh)));
        }
        double top = score[0], sum = 0;
        for (double s : score) top = std::max(top, s);
        for (double s : score) sum += std::exp(s - top);
        for (std::size_t k = 0; k < touching.size(); ++k) {
          const std::int64_t e = touching[k];
          const bool incoming = host.edge_target(e) == v;
          const std::int64_t u = incoming ? host.edge_source(e) : host.edge_target(e), dir = incoming ? 0 : 1;
          const double a = std::exp(score[k] - top) / sum;
          alpha[(b * 2 * E + host.edge_incidence(e, incoming ? 0 : 1)) * H + h] = a;
          for (std::int64_t c = h * dh; c < (h + 1) * dh; ++c)
            out[(b * N + v) * d + c] +=
                a * (node(in[2], N, b, u, c) + node(in[4], E, b, e, c) + node(in[6], 2, b, dir, c));
        }
      }
  expect_near(got[0], out, 1e-12, "out");
  expect_near(got[1], alpha, 1e-12, "alpha");
}

TEST(GraphAttention, DeterministicAndBatchIndependent) {
  const auto graph = hnet::build_graph(4, 6);
  const std::int64_t B = 3, d = 8;
  expect_deterministic(
      [&](std::int64_t batch, std::int64_t, const Outputs& in) { return run_attention<float>(graph, batch, d, 2, in); },
      attention_inputs(graph, B, d, 200), B, 9);
}

// The GPU schedule (a team per node) runs here on the host backend, at a size where a node has more
// incidences × heads than a team has threads. The scores, the softmax and dJ/dscore agree bit for
// bit, also where the host's thread schedule takes four heads to a vector (four heads of a width
// that is a multiple of 4: 16/4, 32/4, 64/4; 64/8 and 24/4 keep the scalar loops); the sums over
// incidences add the same terms in the same order, but the compiler may fuse a multiply-add in one
// schedule and not in the other, so they agree to float rounding.
TEST(GraphAttention, TeamScheduleEqualsThreadSchedule) {
  const auto graph = hnet::build_graph(5, 15);
  const std::int64_t B = 3;
  const std::pair<std::int64_t, int> shapes[] = {{12, 1}, {12, 3}, {16, 4}, {32, 4}, {64, 4}, {64, 8}, {24, 4}};
  for (const auto& [d, heads] : shapes) {
    SCOPED_TRACE("d = " + std::to_string(d) + ", heads = " + std::to_string(heads));
    const Outputs in = attention_inputs(graph, B, d, 400);
    const Outputs thread = run_attention<float>(graph, B, d, heads, in, hk::AttentionSchedule::thread_per_node);
    const Outputs team = run_attention<float>(graph, B, d, heads, in, hk::AttentionSchedule::team_per_node);
    const char* names[] = {"out", "alpha", "dq", "dkx", "dvx", "dky", "dvy", "dkd", "dvd", "dscore"};
    for (std::size_t k = 0; k < thread.size(); ++k)
      if (k == 1 || k == 9) expect_bits(team[k], thread[k], names[k]);
      else expect_near(team[k], thread[k], 2e-6, names[k]);
  }
}

// The host's vector path adds the weighted rows (the forward's out, dq, and the nodes' key and
// value gradients) with the scalar loops' operations: each product of a weight and a row enters the
// running sum rounded once where the target has FMA (GCC compiles x += w·y so there), twice where
// it has not, in incidence order. Checked bit for bit against those sums made on the host from
// the kernel's own α and dJ/dscore, at head widths 8 and 16 (the shipped decks').
TEST(GraphAttention, WeightedSumsAddInIncidenceOrder) {
  const auto graph = hnet::build_graph(5, 15);
  const std::int64_t B = 2, N = graph.nodes, E = graph.edges;
  const int H = 4;
  const auto offset = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incidence_offset);
  const auto other = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incidence_other);
  const auto edge = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incidence_edge);
  const auto direction = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incidence_direction);
  const auto mirror = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), graph.incidence_mirror);
  auto multiply_add = [](float a, float b, float c) {
#if defined(__FMA__)
    return std::fmaf(a, b, c);
#else
    return a * b + c;
#endif
  };
  for (const std::int64_t d : {32, 64}) {
    SCOPED_TRACE("d = " + std::to_string(d));
    const std::int64_t dh = d / H;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
    const Outputs in = attention_inputs(graph, B, d, 500);
    const Outputs got = run_attention<float>(graph, B, d, H, in);
    const Vec &alpha = got[1], &dscore = got[9];
    // term(t, rows, b, r, c): row r of input t at channel c (the key and value terms head-interleaved).
    auto term = [&](int t, std::int64_t rows, std::int64_t b, std::int64_t r, std::int64_t c) {
      const std::int64_t col = t == 0 || t == 7 ? c : (c % dh) * H + c / dh;
      return static_cast<float>(in[t][(b * rows + r) * d + col]);
    };
    Vec out(B * N * d), dq(B * N * d), dkx(B * N * d), dvx(B * N * d);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t v = 0; v < N; ++v)
        for (std::int64_t c = 0; c < d; ++c) {
          const std::int64_t h = c / dh;
          float o = 0, g = 0, gk = 0, gv = 0;
          for (int a = offset(v); a < offset(v + 1); ++a) {
            const int u = other(a), e = edge(a), dir = direction(a), seen_from = mirror(a);
            const float value = term(2, N, b, u, c) + term(4, E, b, e, c) + term(6, 2, b, dir, c);
            const float key = term(1, N, b, u, c) + term(3, E, b, e, c) + term(5, 2, b, dir, c);
            o = multiply_add(static_cast<float>(alpha[(b * 2 * E + a) * H + h]), value, o);
            g = multiply_add(static_cast<float>(dscore[(b * 2 * E + a) * H + h]) * scale, key, g);
            gk = multiply_add(static_cast<float>(dscore[(b * 2 * E + seen_from) * H + h]) * scale, term(0, N, b, u, c), gk);
            gv = multiply_add(static_cast<float>(alpha[(b * 2 * E + seen_from) * H + h]), term(7, N, b, u, c), gv);
          }
          const std::int64_t at = (b * N + v) * d + c;
          out[at] = o, dq[at] = g, dkx[at] = gk, dvx[at] = gv;
        }
    expect_bits(got[0], out, "out");
    expect_bits(got[2], dq, "dq");
    expect_bits(got[3], dkx, "dkx");
    expect_bits(got[4], dvx, "dvx");
  }
}

namespace {
// Attention forward on `in`, then a backward into the edge gradients given only (the other
// gradients absent), added to them or, with Accumulate::no, assigned.
void attention_edge_gradients(const hnet::Graph& graph, std::int64_t B, std::int64_t d, const Outputs& in,
                              const hnet::View3<double>& dky, const hnet::View3<double>& dvy, hk::Accumulate mode) {
  const std::int64_t N = graph.nodes, E = graph.edges;
  using V3 = hnet::View3<double>;
  const V3 q = view<double>("q", in[0], B, N, d), kx = view<double>("kx", in[1], B, N, d);
  const V3 vx = view<double>("vx", in[2], B, N, d), ky = view<double>("ky", in[3], B, E, d);
  const V3 vy = view<double>("vy", in[4], B, E, d), kd = view<double>("kd", in[5], B, 2, d);
  const V3 vd = view<double>("vd", in[6], B, 2, d), dout = view<double>("dout", in[7], B, N, d);
  V3 out("out", B, N, d), alpha("alpha", B, 2 * E, 2), dscore("dscore", B, 2 * E, 2);
  hk::attention_forward(hnet::ExecSpace(), out, alpha, {q, kx, vx, ky, vy, kd, vd}, graph, 2);
  hk::attention_backward(hnet::ExecSpace(), {V3(), V3(), V3(), dky, dvy, V3(), V3()}, dout, {q, kx, vx, ky, vy, kd, vd},
                         alpha, dscore, graph, 2, hk::default_attention_schedule<hnet::ExecSpace>, mode);
}
}  // namespace

TEST(GraphAttention, AbsentGradientsAreSkipped) {
  const auto graph = hnet::build_graph(2, 3);
  const std::int64_t B = 2, d = 4;
  const Outputs in = attention_inputs(graph, B, d, 300);
  const Outputs all = run_attention<double>(graph, B, d, 2, in);
  hnet::View3<double> dvy("dvy", B, graph.edges, d);
  attention_edge_gradients(graph, B, d, in, hnet::View3<double>(), dvy, hk::Accumulate::yes);
  expect_bits(to_vector(dvy), all[6], "dvy");
}

// With edge_mode = Accumulate::no the edges' key and value gradients are assigned: whatever the
// buffers held (here NaN; the model does not clear them between steps) is replaced by what the
// add mode gives from zero.
TEST(GraphAttention, AssignedEdgeGradientsOverwriteWhatTheBuffersHeld) {
  const auto graph = hnet::build_graph(2, 3);
  const std::int64_t B = 2, d = 4;
  const Outputs in = attention_inputs(graph, B, d, 310);
  const Outputs all = run_attention<double>(graph, B, d, 2, in);
  hnet::View3<double> dky("dky", B, graph.edges, d), dvy("dvy", B, graph.edges, d);
  Kokkos::deep_copy(dky, std::numeric_limits<double>::quiet_NaN());
  Kokkos::deep_copy(dvy, std::numeric_limits<double>::quiet_NaN());
  attention_edge_gradients(graph, B, d, in, dky, dvy, hk::Accumulate::no);
  expect_bits(to_vector(dky), all[5], "dky");
  expect_bits(to_vector(dvy), all[6], "dvy");
}

// ---------------------------------------------------------------------------------------------
// Latent channel. Inputs: post, prior, dz, dkl. Outputs: z, kl_rows, sigma, eps, dpost, dprior.

namespace {

// saved: the forward keeps exp(−|ρ|) for the backward (as the model does); the same bits either way.
template <class T>
Outputs run_latent(std::int64_t B, std::int64_t R, std::int64_t k, hk::LatentOptions options, const Outputs& in,
                   bool saved = false) {
  using V3 = hnet::View3<T>;
  const V3 post = view<T>("post", in[0], B, R, 2 * k), prior = view<T>("prior", in[1], B, R, 2 * k);
  const V3 dz = view<T>("dz", in[2], B, R, k);
  const hnet::View1<double> dkl = view<double>("dkl", in[3], B);
  V3 z("z", B, R, k), sigma("sigma", B, R, k), eps("eps", B, R, k), dpost("dpost", B, R, 2 * k),
      dprior("dprior", B, R, 2 * k);
  hnet::View2<double> kl_rows("kl_rows", B, R);
  const V3 prior_arg = options.learned_prior ? prior : V3();
  const hnet::View3<double> exp_rho = saved ? hnet::View3<double>("exp_rho", B, R, k) : hnet::View3<double>();
  hk::latent_forward(hnet::ExecSpace(), z, kl_rows, sigma, eps, post, prior_arg, options, exp_rho);
  hk::latent_backward(hnet::ExecSpace(), dpost, dprior, dz, dkl, post, prior_arg, sigma, eps, options, exp_rho);
  return {to_vector(z), to_vector(kl_rows), to_vector(sigma), to_vector(eps), to_vector(dpost), to_vector(dprior)};
}

Outputs latent_inputs(std::int64_t B, std::int64_t R, std::int64_t k, unsigned seed) {
  return {random_vector(B * R * 2 * k, seed), random_vector(B * R * 2 * k, seed + 1),
          random_vector(B * R * k, seed + 2), random_vector(B, seed + 3)};
}

hk::LatentOptions some_options(hk::SigmaKind sigma, bool learned) {
  hk::LatentOptions o;
  o.sigma = sigma, o.learned_prior = learned, o.prior_scale = 0.3;
  o.seed = 11, o.step = 17, o.network_offset = 4, o.level = 2, o.row_offset = 9;
  return o;
}

}  // namespace

TEST(LatentChannel, ForwardMatchesHostReference) {
  const std::int64_t B = 2, R = 5, k = 3;
  for (auto kind : {hk::SigmaKind::bounded, hk::SigmaKind::softplus})
    for (bool learned : {false, true}) {
      const hk::LatentOptions o = some_options(kind, learned);
      const Outputs in = latent_inputs(B, R, k, 400);
      const Outputs got = run_latent<double>(B, R, k, o, in);
      auto spread = [&](double rho) {
        return kind == hk::SigmaKind::bounded ? o.prior_scale / (1 + std::exp(-rho))
                                              : std::log(1 + std::exp(rho)) + 1e-4;
      };
      Vec z(B * R * k), kl(B * R);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t r = 0; r < R; ++r)
          for (std::int64_t c = 0; c < k; ++c) {
            const std::int64_t row = (b * R + r) * 2 * k;
            const double mu = in[0][row + c], sigma = spread(in[0][row + k + c]);
            const double mu_p = learned ? in[1][row + c] : 0.0;
            const double s =
                learned ? spread(in[1][row + k + c]) : (kind == hk::SigmaKind::bounded ? o.prior_scale : 1.0);
            const auto key = hk::make_key(o.seed, hk::Purpose::latent_noise, o.step, o.network_offset + b, o.level);
            z[(b * R + r) * k + c] = mu + sigma * hk::normal(key, (o.row_offset + r) * k + c);
            kl[b * R + r] += std::log(s / sigma) + (sigma * sigma + (mu - mu_p) * (mu - mu_p)) / (2 * s * s) - 0.5;
          }
      expect_near(got[0], z, 1e-12, "z");
      expect_near(got[1], kl, 1e-12, "kl_rows");
    }
}

// The backward from the forward's saved exp(−|ρ|) (the model's way: no exp and, bounded, no log)
// against the backward that recomputes it: every output bit for bit, in float and double.
TEST(LatentChannel, SavedSpreadGivesTheSameBits) {
  const std::int64_t B = 3, R = 9, k = 4;
  for (auto kind : {hk::SigmaKind::bounded, hk::SigmaKind::softplus})
    for (bool learned : {false, true}) {
      const hk::LatentOptions o = some_options(kind, learned);
      Outputs in = latent_inputs(B, R, k, 450);
      for (double& rho : in[0]) rho *= 4;  // both signs of ρ, far into either tail
      const Outputs apart = run_latent<float>(B, R, k, o, in), saved = run_latent<float>(B, R, k, o, in, true);
      const Outputs apart_d = run_latent<double>(B, R, k, o, in), saved_d = run_latent<double>(B, R, k, o, in, true);
      for (std::size_t j = 0; j < apart.size(); ++j) {
        expect_bits(saved[j], apart[j], ("float output " + std::to_string(j)).c_str());
        expect_bits(saved_d[j], apart_d[j], ("double output " + std::to_string(j)).c_str());
      }
    }
}

TEST(LatentChannel, KlVanishesWhenPosteriorEqualsLearnedPrior) {
  const std::int64_t B = 2, R = 4, k = 3;
  for (auto kind : {hk::SigmaKind::bounded, hk::SigmaKind::softplus}) {
    Outputs in = latent_inputs(B, R, k, 500);
    in[1] = in[0];
    const Outputs got = run_latent<double>(B, R, k, some_options(kind, true), in);
    for (double kl : got[1]) EXPECT_NEAR(kl, 0.0, 1e-14);
  }
}

TEST(LatentChannel, PosteriorMeanHasNoNoise) {
  const std::int64_t B = 2, R = 3, k = 2;
  hk::LatentOptions o = some_options(hk::SigmaKind::bounded, false);
  o.use_mean = true;
  const Outputs in = latent_inputs(B, R, k, 600);
  const Outputs got = run_latent<float>(B, R, k, o, in);
  for (std::int64_t row = 0; row < B * R; ++row)
    for (std::int64_t c = 0; c < k; ++c) {
      EXPECT_EQ(got[0][row * k + c], double(float(in[0][row * 2 * k + c])));
      EXPECT_EQ(got[3][row * k + c], 0.0);
    }
}

TEST(LatentChannel, DeterministicAndBatchIndependent) {
  const std::int64_t B = 3, R = 7, k = 4;
  for (bool learned : {false, true}) {
    const hk::LatentOptions o = some_options(hk::SigmaKind::bounded, learned);
    // Member b run alone is network network_offset + b: the same noise whichever slot computes it.
    expect_deterministic(
        [&](std::int64_t batch, std::int64_t first, const Outputs& in) {
          hk::LatentOptions alone = o;
          alone.network_offset += first;
          return run_latent<float>(batch, R, k, alone, in);
        },
        latent_inputs(B, R, k, 700), B, 6);
  }
}

TEST(LatentChannel, RowsSplitAcrossCallsGiveTheSameNoise) {
  const std::int64_t B = 2, R = 6, k = 3, split = 4;
  const hk::LatentOptions o = some_options(hk::SigmaKind::softplus, false);
  const Outputs in = latent_inputs(B, R, k, 800);
  const Vec whole = run_latent<float>(B, R, k, o, in)[0];
  Vec joined;
  // Plain variables, not a structured binding: the lambda below captures them (nvcc's front end
  // takes neither that C++20 capture nor a range-for over this braced list).
  const std::pair<std::int64_t, std::int64_t> halves[] = {{0, split}, {split, R}};
  for (std::int64_t b = 0; b < B; ++b)
    for (const auto& half : halves) {
      const std::int64_t r0 = half.first, r1 = half.second;
      hk::LatentOptions part = o;
      part.network_offset += b, part.row_offset += r0;
      auto rows = [&](const Vec& v, std::int64_t width) {
        return Vec(v.begin() + (b * R + r0) * width, v.begin() + (b * R + r1) * width);
      };
      const Outputs piece = run_latent<float>(1, r1 - r0, k, part,
                                              {rows(in[0], 2 * k), rows(in[1], 2 * k), rows(in[2], k), Vec{in[3][b]}});
      joined.insert(joined.end(), piece[0].begin(), piece[0].end());
    }
  expect_bits(joined, whole, "z");
}

TEST(LatentChannel, KlSumAddsRowsToTheTotal) {
  const std::int64_t B = 3, R = 50;
  const Vec rows = random_vector(B * R, 900), start = random_vector(B, 901);
  const hnet::View2<double> kl_rows = view<double>("kl_rows", rows, B, R);
  const hnet::View1<double> kl = view<double>("kl", start, B);
  hk::kl_sum_forward(hnet::ExecSpace(), kl, kl_rows);
  const Vec got = to_vector(kl);
  for (std::int64_t b = 0; b < B; ++b) {
    double sum = 0;
    for (std::int64_t r = 0; r < R; ++r) sum += rows[b * R + r];
    EXPECT_EQ(got[b], start[b] + sum);
  }
}

// ---------------------------------------------------------------------------------------------
// Read-out. Inputs: raw_w0, raw_w1, raw_b0, raw_b1, bil_a, bil_b, P, dw0, db0, dw1, db1.
// Outputs: w0, b0, w1, b1, then every gradient.

namespace {

struct ReadoutShape {
  std::int64_t n, m, d, p, off_gamma;
  bool bilinear;
};

template <class T>
Outputs run_readout(std::int64_t B, const ReadoutShape& s, const Outputs& in) {
  using V3 = hnet::View3<T>;
  using V2 = hnet::View2<T>;
  const std::int64_t n = s.n, m = s.m, N = n + m + 1;
  const V3 raw_w0 = view<T>("raw_w0", in[0], B, n * m, 1), raw_w1 = view<T>("raw_w1", in[1], B, m, 1);
  const V3 raw_b0 = view<T>("raw_b0", in[2], B, m, 1), raw_b1 = view<T>("raw_b1", in[3], B, 1, 1);
  const V3 bil_a = s.bilinear ? view<T>("bil_a", in[4], B, N, s.d) : V3();
  const V3 bil_b = s.bilinear ? view<T>("bil_b", in[5], B, N, s.d) : V3();
  const V2 P = view<T>("P", in[6], B, s.p), db0 = view<T>("db0", in[8], B, m), dw1 = view<T>("dw1", in[9], B, m);
  const V3 dw0 = view<T>("dw0", in[7], B, n, m);
  const hnet::View1<T> db1 = view<T>("db1", in[10], B);
  V3 w0("w0", B, n, m), draw_w0("draw_w0", B, n * m, 1), draw_w1("draw_w1", B, m, 1), draw_b0("draw_b0", B, m, 1);
  V3 draw_b1("draw_b1", B, 1, 1), dbil_a("dbil_a", B, N, s.d), dbil_b("dbil_b", B, N, s.d);
  V2 b0("b0", B, m), w1("w1", B, m), dP("dP", B, s.p);
  hnet::View1<T> b1("b1", B);
  hk::readout_forward(hnet::ExecSpace(), {w0, b0, w1, b1}, {raw_w0, raw_w1, raw_b0, raw_b1, bil_a, bil_b}, P,
                      s.off_gamma);
  hk::readout_backward(hnet::ExecSpace(), {draw_w0, draw_w1, draw_b0, draw_b1, dbil_a, dbil_b}, dP, {dw0, db0, dw1, db1},
                       {raw_w0, raw_w1, raw_b0, raw_b1, bil_a, bil_b}, P, s.off_gamma);
  return {to_vector(w0),      to_vector(b0),      to_vector(w1),      to_vector(b1),
          to_vector(draw_w0), to_vector(draw_w1), to_vector(draw_b0), to_vector(draw_b1),
          to_vector(dbil_a),  to_vector(dbil_b),  to_vector(dP)};
}

Outputs readout_inputs(std::int64_t B, const ReadoutShape& s, unsigned seed) {
  const std::int64_t n = s.n, m = s.m, N = n + m + 1;
  return {random_vector(B * n * m, seed),
          random_vector(B * m, seed + 1),
          random_vector(B * m, seed + 2),
          random_vector(B, seed + 3),
          random_vector(B * N * s.d, seed + 4),
          random_vector(B * N * s.d, seed + 5),
          random_vector(B * s.p, seed + 6, 0.5),
          random_vector(B * n * m, seed + 7),
          random_vector(B * m, seed + 8),
          random_vector(B * m, seed + 9),
          random_vector(B, seed + 10)};
}

}  // namespace

TEST(Readout, ForwardMatchesHostReference) {
  const std::int64_t B = 2;
  for (bool bilinear : {true, false}) {
    const ReadoutShape s{3, 5, 4, 7, 2, bilinear};
    const Outputs in = readout_inputs(B, s, 1000);
    const Outputs got = run_readout<double>(B, s, in);
    const std::int64_t n = s.n, m = s.m, N = n + m + 1, d = s.d;
    Vec w0(B * n * m), b0(B * m), w1(B * m), b1(B);
    for (std::int64_t b = 0; b < B; ++b) {
      const double* gamma = &in[6][b * s.p + s.off_gamma];
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < m; ++j) {
          double bil = 0;
          for (std::int64_t c = 0; c < d && bilinear; ++c)
            bil += in[4][(b * N + i) * d + c] * in[5][(b * N + n + j) * d + c];
          w0[(b * n + i) * m + j] = std::exp(gamma[0]) * (in[0][b * n * m + i * m + j] + bil / std::sqrt(double(d)));
        }
      for (std::int64_t j = 0; j < m; ++j) {
        w1[b * m + j] = std::exp(gamma[1]) * in[1][b * m + j];
        b0[b * m + j] = std::exp(gamma[2]) * in[2][b * m + j];
      }
      b1[b] = std::exp(gamma[3]) * in[3][b];
    }
    expect_near(got[0], w0, 1e-12, "w0");
    expect_near(got[1], b0, 1e-12, "b0");
    expect_near(got[2], w1, 1e-12, "w1");
    expect_near(got[3], b1, 1e-12, "b1");
  }
}

TEST(Readout, DeterministicAndBatchIndependent) {
  const ReadoutShape s{4, 6, 8, 10, 5, true};
  const std::int64_t B = 3;
  expect_deterministic(
      [&](std::int64_t batch, std::int64_t, const Outputs& in) { return run_readout<float>(batch, s, in); },
      readout_inputs(B, s, 1100), B, 11);
}

// ---------------------------------------------------------------------------------------------
// φ MLP. Inputs: u, dphi (Q is shared). Outputs: phi, a1, a2 per network, dQ summed over them.

namespace {

template <class T>
Outputs run_phi(std::int64_t B, const hk::PhiLayout& L, const Vec& Q, const Outputs& in) {
  const hnet::View1<T> q = view<T>("Q", Q, Q.size()), u = view<T>("u", in[0], B);
  const hnet::View2<T> dphi = view<T>("dphi", in[1], B, L.dphi);
  hnet::View2<T> phi("phi", B, L.dphi), a1("a1", B, L.h1), a2("a2", B, L.h2);
  hnet::View1<T> dQ("dQ", Q.size());
  hk::phi_forward(hnet::ExecSpace(), phi, a1, a2, u, q, L);
  hk::phi_backward(hnet::ExecSpace(), dQ, dphi, u, q, a1, a2, L);
  return {to_vector(phi), to_vector(a1), to_vector(a2), to_vector(dQ)};
}

}  // namespace

TEST(PhiMlp, ForwardMatchesHostReference) {
  const std::int64_t B = 4;
  const hk::PhiLayout L = hk::packed_phi_layout(6, 5, 3, 1);
  const Vec Q = random_vector(L.b3 + L.dphi, 1200, 0.7), u = random_vector(B, 1201);
  const Vec got = run_phi<double>(B, L, Q, {u, random_vector(B * L.dphi, 1202)})[0];
  auto swish = [](double x) { return x / (1 + std::exp(-x)); };
  for (std::int64_t b = 0; b < B; ++b) {
    Vec h1(L.h1), h2(L.h2);
    for (std::int64_t j = 0; j < L.h1; ++j) h1[j] = swish(u[b] * Q[L.w1 + j] + Q[L.b1 + j]);
    for (std::int64_t j = 0; j < L.h2; ++j) {
      double a = Q[L.b2 + j];
      for (std::int64_t i = 0; i < L.h1; ++i) a += h1[i] * Q[L.w2 + i * L.h2 + j];
      h2[j] = swish(a);
    }
    for (std::int64_t c = 0; c < L.dphi; ++c) {
      double phi = Q[L.b3 + c];
      for (std::int64_t i = 0; i < L.h2; ++i) phi += h2[i] * Q[L.w3 + i * L.dphi + c];
      EXPECT_NEAR(got[b * L.dphi + c], phi, 1e-12 * (1 + std::fabs(phi)));
    }
  }
}

TEST(PhiMlp, DeterministicAndBatchIndependent) {
  const std::int64_t B = 5;
  const hk::PhiLayout L = hk::packed_phi_layout(64, 64, 16);
  const Vec Q = random_vector(L.b3 + L.dphi, 1300, 0.2);
  expect_deterministic(
      [&](std::int64_t batch, std::int64_t, const Outputs& in) { return run_phi<float>(batch, L, Q, in); },
      {random_vector(B, 1301), random_vector(B * L.dphi, 1302)}, B, 3);
}

// ---------------------------------------------------------------------------------------------
// Parameter generation. Inputs: phi, dP (P0 and U are shared). Outputs: P, dphi per network;
// dP0, dU summed over them.

namespace {

template <class T>
Outputs run_generate(std::int64_t B, std::int64_t p, std::int64_t dim, const Vec& P0, const Vec& U, const Outputs& in) {
  const hnet::View1<T> p0 = view<T>("P0", P0, p);
  const hnet::View2<T> u = view<T>("U", U, p, dim), phi = view<T>("phi", in[0], B, dim),
                       dP = view<T>("dP", in[1], B, p);
  hnet::View2<T> P("P", B, p), dU("dU", p, dim), dphi("dphi", B, dim);
  hnet::View1<T> dP0("dP0", p);
  hk::generate_parameters_forward(hnet::ExecSpace(), P, p0, u, phi);
  hnet::View3<double> partials("dphi_partials", B, hk::generate_parameters_chunks(p), dim);
  hk::generate_parameters_backward(hnet::ExecSpace(), dP0, dU, dphi, dP, u, phi, partials);
  return {to_vector(P), to_vector(dphi), to_vector(dP0), to_vector(dU)};
}

}  // namespace

// dφ = 16 takes the host's two-networks-per-item path for dφ (B = 3 leaves one alone), 4 and 5 the
// general one; 5 also leaves one column of dU outside the host's pairs of columns.
class GenerateParametersWidth : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(GenerateParametersWidth, MatchesHostReference) {
  const std::int64_t B = 3, p = 3 * hk::generate_parameters_chunk + 17, dim = GetParam();
  const Vec P0 = random_vector(p, 1400), U = random_vector(p * dim, 1401), phi = random_vector(B * dim, 1402);
  const Vec dP = random_vector(B * p, 1403);
  const Outputs got = run_generate<double>(B, p, dim, P0, U, {phi, dP});
  Vec P(B * p), dphi(B * dim), dP0(p), dU(p * dim);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t i = 0; i < p; ++i) {
      P[b * p + i] = P0[i];
      dP0[i] += dP[b * p + i];
      for (std::int64_t c = 0; c < dim; ++c) {
        P[b * p + i] += U[i * dim + c] * phi[b * dim + c];
        dU[i * dim + c] += dP[b * p + i] * phi[b * dim + c];
        dphi[b * dim + c] += U[i * dim + c] * dP[b * p + i];
      }
    }
  expect_near(got[0], P, 1e-12, "P");
  expect_near(got[1], dphi, 1e-12, "dphi");
  expect_near(got[2], dP0, 1e-12, "dP0");
  expect_near(got[3], dU, 1e-12, "dU");
}
INSTANTIATE_TEST_SUITE_P(GenerateParameters, GenerateParametersWidth, ::testing::Values(4, 5, 16));

// A rank holds any number of the step's networks: P of a network must not depend on how many share
// its call (1, 2 or 3 more than a multiple of the GEMM's 4-row register blocks included).
TEST(GenerateParameters, ForwardBitsDoNotDependOnTheBatchSplit) {
  const std::int64_t B = 7, p = 3000, dim = 16;
  const Vec P0 = random_vector(p, 1600), U = random_vector(p * dim, 1601, 1e-3), phi = random_vector(B * dim, 1602);
  auto forward = [&](std::int64_t first, std::int64_t count) {
    const Vec rows(phi.begin() + first * dim, phi.begin() + (first + count) * dim);
    hnet::View2<float> P("P", count, p);
    hk::generate_parameters_forward(hnet::ExecSpace(), P, view<float>("P0", P0, p), view<float>("U", U, p, dim),
                                    view<float>("phi", rows, count, dim));
    return to_vector(P);
  };
  const Vec whole = forward(0, B);
  const std::pair<std::int64_t, std::int64_t> splits[] = {{0, 2}, {2, 3}, {5, 2}, {3, 1}, {1, 5}};  // first, count
  for (const auto& split : splits) {
    const Vec part = forward(split.first, split.second);
    expect_bits(part, Vec(whole.begin() + split.first * p, whole.begin() + (split.first + split.second) * p),
                "networks split");
  }
}

// dP0 and dU are sums over the networks in the pairwise tree of kernels/pairwise_sum.hpp: the bits
// must be those of the counter fed one rounded product at a time. 19 networks: two blocks of 8 and
// 3 alone in the counter's host path (dφ = 5: two pairs of columns and one alone); at dφ = 16 the
// host's row path, with 19, 37 (trees of 32, 4 and 1) and 70 networks (more than it takes: the
// counter's path again). 40 parameters: two vectors of 16 lanes and a ragged 8.
TEST(GenerateParameters, BackwardSumsFollowThePairwiseTree) {
  const std::int64_t p = 40;
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{19, 5}, {19, 16}, {37, 16}, {70, 16}};
  for (const auto& [B, dim] : shapes) {
    SCOPED_TRACE("networks " + std::to_string(B) + ", dphi " + std::to_string(dim));
    const Vec P0 = random_vector(p, 1700), U = random_vector(p * dim, 1701), phi = random_vector(B * dim, 1702);
    const Vec dP = random_vector(B * p, 1703);
    const Outputs got = run_generate<float>(B, p, dim, P0, U, {phi, dP});
    Vec dP0(p), dU(p * dim);
    for (std::int64_t i = 0; i < p; ++i) {
      hk::PairwiseSum<float> sum0;
      for (std::int64_t b = 0; b < B; ++b) sum0.add(static_cast<float>(dP[b * p + i]));
      dP0[i] = sum0.total();
      for (std::int64_t c = 0; c < dim; ++c) {
        hk::PairwiseSum<float> sum;
        for (std::int64_t b = 0; b < B; ++b) {
          volatile float product = static_cast<float>(dP[b * p + i]) * static_cast<float>(phi[b * dim + c]);
          sum.add(product);
        }
        dU[i * dim + c] = sum.total();
      }
    }
    expect_bits(got[2], dP0, "dP0");
    expect_bits(got[3], dU, "dU");
  }
}

// pairwise_total (the tree without the counter) gives the counter's bits for every count.
struct FloatAt {  // a host-device functor: pairwise_total is a host-device function
  const float* values;
  KOKKOS_INLINE_FUNCTION float operator()(std::int64_t k) const { return values[k]; }
};
TEST(PairwiseSum, TotalWithoutCounterEqualsCounter) {
  const Vec drawn = random_vector(300, 1710);
  const std::vector<float> values(drawn.begin(), drawn.end());
  for (std::int64_t n = 1; n <= 300; ++n) {
    hk::PairwiseSum<float> sum;
    for (std::int64_t k = 0; k < n; ++k) sum.add(values[k]);
    const float direct = hk::pairwise_total(n, FloatAt{values.data()});
    ASSERT_EQ(hnet::compat::bits_of(direct), hnet::compat::bits_of(sum.total())) << n << " values";
  }
}

TEST(GenerateParameters, DeterministicAndBatchIndependent) {
  const std::int64_t B = 4, p = 20000, dim = 16;
  const Vec P0 = random_vector(p, 1500), U = random_vector(p * dim, 1501, 1e-3);
  expect_deterministic([&](std::int64_t batch, std::int64_t,
                           const Outputs& in) { return run_generate<float>(batch, p, dim, P0, U, in); },
                       {random_vector(B * dim, 1502), random_vector(B * p, 1503)}, B, 2);
}

// Identity features drawn per network (model.md §4, identity_draw = per_network): a pure function
// of (seeds, step, global network index, node), so a rank's slice of the batch gets the bits the
// whole batch gives it; networks and steps differ; an edge carries its two nodes' vectors.
TEST(IdentityDraw, PerNetworkFeaturesAreKeyedByStepNetworkAndNode) {
  const std::int64_t n = 4, m = 6, N = n + m + 1, E = n * m + m, dr = 5, B = 3;
  const auto graph = hnet::build_graph(n, m);
  auto draw = [&](std::int64_t batch, std::uint64_t step, std::uint64_t offset) {
    hnet::View3<double> nodes("hnet::test::r_nodes", batch, N, dr), edges("hnet::test::r_edges", batch, E, 2 * dr);
    hk::draw_identity_features(hnet::ExecSpace(), nodes, edges, graph, {7, 3, step, offset, 2.0});
    return std::make_pair(to_vector(nodes), to_vector(edges));
  };
  const auto [nodes, edges] = draw(B, 11, 0);
  EXPECT_EQ(draw(B, 11, 0).first, nodes) << "the same draw twice";
  const Vec last_alone = draw(1, 11, 2).first;  // network 2 on a rank of its own
  EXPECT_TRUE(std::equal(last_alone.begin(), last_alone.end(), nodes.begin() + 2 * N * dr));
  const Vec other_step = draw(B, 12, 0).first;
  EXPECT_NE(other_step, nodes);
  auto at = [&](const Vec& v, std::int64_t b, std::int64_t node, std::int64_t c) { return v[(b * N + node) * dr + c]; };
  EXPECT_NE(at(nodes, 0, 1, 0), at(nodes, 1, 1, 0)) << "two networks share a node's vector";
  EXPECT_NE(at(nodes, 0, 1, 0), at(nodes, 0, 2, 0)) << "two nodes share a vector";
  auto host = hnet::build_host_graph(n, m);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t e = 0; e < E; ++e)
      for (std::int64_t c = 0; c < dr; ++c) {
        ASSERT_EQ(edges[(b * E + e) * 2 * dr + c], at(nodes, b, host.edge_source(e), c));
        ASSERT_EQ(edges[(b * E + e) * 2 * dr + dr + c], at(nodes, b, host.edge_target(e), c));
      }
  double sum = 0, sum_sq = 0;
  for (double x : nodes) sum += x, sum_sq += x * x;
  const double count = static_cast<double>(nodes.size()), mean = sum / count;
  EXPECT_NEAR(mean, 0.0, 0.5);
  EXPECT_NEAR(std::sqrt(sum_sq / count - mean * mean), 2.0, 0.5) << "scale 2: standard deviation 2";
}

// Shifted identity features (model.md §4, identity_draw = shifted): without the shift they are the
// fixed features; with it, network b sees the fixed vectors of inputs i + o_b and hidden units
// j + 3·o_b (m = 3n), the output its own, o_b in 0 … max drawn per (step, global network), so a
// rank's slice gets the whole batch's bits.
TEST(IdentityDraw, ShiftedFeaturesAreFixedFeaturesOfShiftedIndices) {
  const std::int64_t n = 4, m = 12, N = n + m + 1, E = n * m + m, dr = 5, B = 16, max_shift = 3;
  const auto graph = hnet::build_graph(n, m);
  const auto host = hnet::build_host_graph(n, m);
  hnet::ModelShape shape;
  shape.identity_dim = dr, shape.identity_seed = 7, shape.identity_scale = 2.0;
  auto draw = [&](std::int64_t batch, std::uint64_t offset, bool shift) {
    hnet::View3<double> nodes("hnet::test::r_nodes", batch, N, dr), edges("hnet::test::r_edges", batch, E, 2 * dr);
    hk::shifted_identity_features(hnet::ExecSpace(), nodes, edges, graph, {7, 3, 11, offset, 2.0, max_shift, m / n, shift});
    return std::make_pair(to_vector(nodes), to_vector(edges));
  };
  // Unshifted: every network gets the fixed features (identity_features.cpp), bit for bit.
  const std::vector<double> fixed = hnet::fixed_identity_features(shape, host);
  const Vec unshifted = draw(2, 0, false).first;
  for (std::int64_t b = 0; b < 2; ++b)
    EXPECT_TRUE(std::equal(fixed.begin(), fixed.end(), unshifted.begin() + b * N * dr)) << "network " << b;
  // Shifted: the fixed features of larger graphs, read at the shifted indices.
  const std::vector<double> wide =
      hnet::fixed_identity_features(shape, hnet::build_host_graph(n + max_shift, m + (m / n) * max_shift));
  const std::int64_t wide_n = n + max_shift, wide_m = m + (m / n) * max_shift;
  const auto [nodes, edges] = draw(B, 0, true);
  std::vector<int> seen(max_shift + 1, 0);
  for (std::int64_t b = 0; b < B; ++b) {
    const hk::IdentityShift keys{7, 3, 11, 0, 2.0, max_shift, m / n, true};
    const std::int64_t o = hk::identity_offset(keys, b);
    ASSERT_GE(o, 0);
    ASSERT_LE(o, max_shift);
    ++seen[o];
    for (std::int64_t v = 0; v < N; ++v) {
      const std::int64_t type = host.node_type(v), index = host.node_index_in_type(v);
      const std::int64_t w = type == 0   ? index + o
                             : type == 1 ? hnet::node_of_hidden(wide_n, index + (m / n) * o)
                                         : hnet::node_of_output(wide_n, wide_m);
      for (std::int64_t c = 0; c < dr; ++c)
        ASSERT_EQ(nodes[(b * N + v) * dr + c], wide[w * dr + c]) << "network " << b << " node " << v;
    }
    for (std::int64_t e = 0; e < E; ++e)
      for (std::int64_t c = 0; c < dr; ++c) {
        ASSERT_EQ(edges[(b * E + e) * 2 * dr + c], nodes[(b * N + host.edge_source(e)) * dr + c]);
        ASSERT_EQ(edges[(b * E + e) * 2 * dr + dr + c], nodes[(b * N + host.edge_target(e)) * dr + c]);
      }
  }
  for (std::int64_t o = 0; o <= max_shift; ++o) EXPECT_GT(seen[o], 0) << "offset " << o << " never drawn in 16 networks";
  const Vec last_alone = draw(1, B - 1, true).first;  // network 15 on a rank of its own
  EXPECT_TRUE(std::equal(last_alone.begin(), last_alone.end(), nodes.begin() + (B - 1) * N * dr));
}
