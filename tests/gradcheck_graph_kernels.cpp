// Finite-difference checks, in double, of every gradient element of the graph kernels: attention,
// latent channel, read-out, φ MLP and parameter generation. Each objective is J = Σ upstream·outputs
// with a random upstream; every gradient buffer starts filled with noise, so a backward that
// overwrites instead of accumulating fails too.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gradcheck.hpp"
#include "hnet/graph.hpp"
#include "kernels/attention.hpp"
#include "kernels/beta_conditioning.hpp"
#include "kernels/latent.hpp"
#include "kernels/readout.hpp"
#include "view_utils.hpp"

namespace {
namespace hk = hnet::kernels;
using hnet::testing::check_gradient;
using hnet::testing::dot;
using hnet::testing::fill_normal;
using hnet::testing::from_vector;
using hnet::testing::to_vector;
using V1 = hnet::View1<double>;
using V2 = hnet::View2<double>;
using V3 = hnet::View3<double>;

// Host copies of the inputs a check perturbs, each bound to its device view.
class Inputs {
 public:
  template <class View>
  void add(const std::string& name, const View& view, unsigned seed, double scale = 1.0) {
    fill_normal(view, seed, scale);
    entries_.push_back({name, to_vector(view), [view](const std::vector<double>& v) { from_vector(view, v); }});
  }
  void upload() {
    for (auto& e : entries_) e.upload(e.values);
  }
  // Checks every element of input `name` against `analytic`; returns the number of mismatches.
  int check(const std::string& name, const std::vector<double>& analytic, const std::function<double()>& objective) {
    for (auto& e : entries_)
      if (e.name == name) {
        EXPECT_EQ(e.values.size(), analytic.size()) << name;
        return check_gradient(name, e.values.data(), analytic.data(), e.values.size(), objective);
      }
    ADD_FAILURE() << "no input " << name;
    return 1;
  }

 private:
  struct Entry {
    std::string name;
    std::vector<double> values;
    std::function<void(const std::vector<double>&)> upload;
  };
  std::vector<Entry> entries_;
};

// A gradient buffer that starts with noise; added() is what the backward contributed.
template <class View>
struct Accumulated {
  View view;
  std::vector<double> before;
  Accumulated(const View& v, unsigned seed) : view(v) {
    fill_normal(view, seed);
    before = to_vector(view);
  }
  std::vector<double> added() const {
    std::vector<double> after = to_vector(view);
    for (std::size_t k = 0; k < after.size(); ++k) after[k] -= before[k];
    return after;
  }
};

std::vector<double> random_vector(std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(size);
  for (double& x : v) x = normal(rng);
  return v;
}

}  // namespace

namespace {
void check_attention_gradient(hk::AttentionSchedule schedule, std::int64_t d, int heads) {
  const auto graph = hnet::build_graph(2, 3);
  const std::int64_t B = 2, N = graph.nodes, E = graph.edges;
  V3 q("q", B, N, d), kx("kx", B, N, d), vx("vx", B, N, d), ky("ky", B, E, d), vy("vy", B, E, d);
  V3 kd("kd", B, 2, d), vd("vd", B, 2, d), out("out", B, N, d), alpha("alpha", B, 2 * E, heads);
  V3 dscore("dscore", B, 2 * E, heads), dout("dout", B, N, d);
  Inputs in;
  in.add("q", q, 1), in.add("kx", kx, 2), in.add("vx", vx, 3), in.add("ky", ky, 4), in.add("vy", vy, 5);
  in.add("kd", kd, 6), in.add("vd", vd, 7);
  const auto upstream = random_vector(out.size(), 8);
  auto objective = [&]() {
    in.upload();
    hk::attention_forward(hnet::ExecSpace(), out, alpha, {q, kx, vx, ky, vy, kd, vd}, graph, heads, schedule);
    return dot(upstream, to_vector(out));
  };
  objective();
  from_vector(dout, upstream);
  Accumulated<V3> dq(V3("dq", B, N, d), 11), dkx(V3("dkx", B, N, d), 12), dvx(V3("dvx", B, N, d), 13);
  Accumulated<V3> dky(V3("dky", B, E, d), 14), dvy(V3("dvy", B, E, d), 15);
  Accumulated<V3> dkd(V3("dkd", B, 2, d), 16), dvd(V3("dvd", B, 2, d), 17);
  hk::attention_backward(hnet::ExecSpace(), {dq.view, dkx.view, dvx.view, dky.view, dvy.view, dkd.view, dvd.view},
                         dout, {q, kx, vx, ky, vy, kd, vd}, alpha, dscore, graph, heads, schedule);
  // The key and value terms go in head-interleaved and their gradients come out in the usual
  // layout: element k of an input pairs with element k of its interleaved gradient.
  auto interleaved = [d, heads](const std::vector<double>& g) { return hnet::testing::head_interleaved(g, d, heads); };
  EXPECT_EQ(in.check("q", dq.added(), objective), 0);
  EXPECT_EQ(in.check("kx", interleaved(dkx.added()), objective), 0);
  EXPECT_EQ(in.check("vx", interleaved(dvx.added()), objective), 0);
  EXPECT_EQ(in.check("ky", interleaved(dky.added()), objective), 0);
  EXPECT_EQ(in.check("vy", interleaved(dvy.added()), objective), 0);
  EXPECT_EQ(in.check("kd", interleaved(dkd.added()), objective), 0);
  EXPECT_EQ(in.check("vd", interleaved(dvd.added()), objective), 0);
}
}  // namespace

// Both schedules: the one of this backend and the other (the GPU's team schedule runs on the host too).
class AttentionGradcheck : public ::testing::TestWithParam<hk::AttentionSchedule> {};

// d = 4 with 2 heads, and d = 16 and 32 with 4 heads of width 4 and 8 (in floats the host's thread
// schedule would take them four heads to a vector; in double it runs the scalar loops).
TEST_P(AttentionGradcheck, EveryElement) {
  const std::pair<std::int64_t, int> shapes[] = {{4, 2}, {16, 4}, {32, 4}};
  for (const auto& [d, heads] : shapes) {
    SCOPED_TRACE("d = " + std::to_string(d));
    check_attention_gradient(GetParam(), d, heads);
  }
}

INSTANTIATE_TEST_SUITE_P(Schedules, AttentionGradcheck,
                         ::testing::Values(hk::AttentionSchedule::thread_per_node, hk::AttentionSchedule::team_per_node),
                         [](const ::testing::TestParamInfo<hk::AttentionSchedule>& info) {
                           return info.param == hk::AttentionSchedule::thread_per_node ? "thread_per_node"
                                                                                       : "team_per_node";
                         });

namespace {

void check_latent(hk::LatentOptions options) {
  const std::int64_t B = 2, R = 3, k = 2;
  V3 post("post", B, R, 2 * k), prior("prior", B, R, 2 * k), z("z", B, R, k), sigma("sigma", B, R, k);
  V3 eps("eps", B, R, k), dz("dz", B, R, k);
  V2 kl_rows("kl_rows", B, R);
  V1 dkl("dkl", B);
  Inputs in;
  in.add("post", post, 21, 0.5);
  if (options.learned_prior) in.add("prior", prior, 22, 0.5);
  const auto up_z = random_vector(z.size(), 23), up_kl = random_vector(B, 24);
  const V3 prior_arg = options.learned_prior ? prior : V3();
  auto objective = [&]() {
    in.upload();
    hk::latent_forward(hnet::ExecSpace(), z, kl_rows, sigma, eps, post, prior_arg, options);
    const auto kl = to_vector(kl_rows);
    double j = dot(up_z, to_vector(z));
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t r = 0; r < R; ++r) j += up_kl[b] * kl[b * R + r];
    return j;
  };
  objective();
  from_vector(dz, up_z), from_vector(dkl, up_kl);
  Accumulated<V3> dpost(V3("dpost", B, R, 2 * k), 25), dprior(V3("dprior", B, R, 2 * k), 26);
  hk::latent_backward(hnet::ExecSpace(), dpost.view, options.learned_prior ? dprior.view : V3(), dz, dkl, post,
                      prior_arg, sigma, eps, options);
  EXPECT_EQ(in.check("post", dpost.added(), objective), 0);
  if (options.learned_prior) {
    EXPECT_EQ(in.check("prior", dprior.added(), objective), 0);
  }
}

hk::LatentOptions latent_options(hk::SigmaKind sigma, bool learned, bool use_mean) {
  hk::LatentOptions o;
  o.sigma = sigma, o.learned_prior = learned, o.use_mean = use_mean;
  o.seed = 7, o.step = 3, o.network_offset = 2, o.level = 1, o.row_offset = 5;
  return o;
}

}  // namespace

TEST(LatentGradcheck, BoundedStandardPrior) { check_latent(latent_options(hk::SigmaKind::bounded, false, false)); }
TEST(LatentGradcheck, BoundedLearnedPrior) { check_latent(latent_options(hk::SigmaKind::bounded, true, false)); }
TEST(LatentGradcheck, SoftplusStandardPrior) { check_latent(latent_options(hk::SigmaKind::softplus, false, false)); }
TEST(LatentGradcheck, SoftplusLearnedPrior) { check_latent(latent_options(hk::SigmaKind::softplus, true, false)); }
TEST(LatentGradcheck, PosteriorMean) { check_latent(latent_options(hk::SigmaKind::bounded, true, true)); }

namespace {

void check_readout(bool bilinear) {
  const std::int64_t B = 2, n = 2, m = 3, N = n + m + 1, d = 4, p = 9, off_gamma = 3;
  V3 w0("w0", B, n, m), raw_w0("raw_w0", B, n * m, 1), raw_w1("raw_w1", B, m, 1), raw_b0("raw_b0", B, m, 1);
  V3 raw_b1("raw_b1", B, 1, 1), bil_a("bil_a", B, N, d), bil_b("bil_b", B, N, d), dw0("dw0", B, n, m);
  V2 b0("b0", B, m), w1("w1", B, m), P("P", B, p), db0("db0", B, m), dw1("dw1", B, m);
  V1 b1("b1", B), db1("db1", B);
  Inputs in;
  in.add("raw_w0", raw_w0, 31), in.add("raw_w1", raw_w1, 32), in.add("raw_b0", raw_b0, 33);
  in.add("raw_b1", raw_b1, 34), in.add("P", P, 35, 0.5);
  if (bilinear) in.add("bil_a", bil_a, 36), in.add("bil_b", bil_b, 37);
  const V3 a_arg = bilinear ? bil_a : V3(), b_arg = bilinear ? bil_b : V3();
  const auto up_w0 = random_vector(w0.size(), 38), up_b0 = random_vector(b0.size(), 39);
  const auto up_w1 = random_vector(w1.size(), 40), up_b1 = random_vector(b1.size(), 41);
  auto objective = [&]() {
    in.upload();
    hk::readout_forward(hnet::ExecSpace(), {w0, b0, w1, b1}, {raw_w0, raw_w1, raw_b0, raw_b1, a_arg, b_arg}, P,
                        off_gamma);
    return dot(up_w0, to_vector(w0)) + dot(up_b0, to_vector(b0)) + dot(up_w1, to_vector(w1)) +
           dot(up_b1, to_vector(b1));
  };
  objective();
  from_vector(dw0, up_w0), from_vector(db0, up_b0), from_vector(dw1, up_w1), from_vector(db1, up_b1);
  Accumulated<V3> draw_w0(V3("draw_w0", B, n * m, 1), 42), draw_w1(V3("draw_w1", B, m, 1), 43);
  Accumulated<V3> draw_b0(V3("draw_b0", B, m, 1), 44), draw_b1(V3("draw_b1", B, 1, 1), 45);
  Accumulated<V3> dbil_a(V3("dbil_a", B, N, d), 46), dbil_b(V3("dbil_b", B, N, d), 47);
  Accumulated<V2> dP(V2("dP", B, p), 48);
  hk::readout_backward(hnet::ExecSpace(),
                       {draw_w0.view, draw_w1.view, draw_b0.view, draw_b1.view, bilinear ? dbil_a.view : V3(),
                        bilinear ? dbil_b.view : V3()},
                       dP.view, {dw0, db0, dw1, db1}, {raw_w0, raw_w1, raw_b0, raw_b1, a_arg, b_arg}, P, off_gamma);
  EXPECT_EQ(in.check("raw_w0", draw_w0.added(), objective), 0);
  EXPECT_EQ(in.check("raw_w1", draw_w1.added(), objective), 0);
  EXPECT_EQ(in.check("raw_b0", draw_b0.added(), objective), 0);
  EXPECT_EQ(in.check("raw_b1", draw_b1.added(), objective), 0);
  EXPECT_EQ(in.check("P", dP.added(), objective), 0);
  if (bilinear) {
    EXPECT_EQ(in.check("bil_a", dbil_a.added(), objective), 0);
    EXPECT_EQ(in.check("bil_b", dbil_b.added(), objective), 0);
  }
}

}  // namespace

TEST(ReadoutGradcheck, EdgeBilinear) { check_readout(true); }
TEST(ReadoutGradcheck, Edge) { check_readout(false); }

TEST(PhiGradcheck, EveryWeight) {
  const std::int64_t B = 3;
  const hk::PhiLayout layout = hk::packed_phi_layout(5, 4, 3, 2);
  const std::int64_t q_size = layout.b3 + layout.dphi + 1;
  V1 Q("Q", q_size), u("u", B);
  V2 phi("phi", B, layout.dphi), a1("a1", B, layout.h1), a2("a2", B, layout.h2), dphi("dphi", B, layout.dphi);
  Inputs in;
  in.add("Q", Q, 51, 0.7);
  fill_normal(u, 52);
  const auto upstream = random_vector(phi.size(), 53);
  auto objective = [&]() {
    in.upload();
    hk::phi_forward(hnet::ExecSpace(), phi, a1, a2, u, Q, layout);
    return dot(upstream, to_vector(phi));
  };
  objective();
  from_vector(dphi, upstream);
  Accumulated<V1> dQ(V1("dQ", q_size), 54);
  hk::phi_backward(hnet::ExecSpace(), dQ.view, dphi, u, Q, a1, a2, layout);
  EXPECT_EQ(in.check("Q", dQ.added(), objective), 0);
}

namespace {

// Checks every element of dP0 and dU when `all` is set, and of dφ always.
void check_generate(std::int64_t p, bool all) {
  const std::int64_t B = 2, dphi = 3;
  V2 P("P", B, p), U("U", p, dphi), phi("phi", B, dphi), dP("dP", B, p);
  V1 P0("P0", p);
  Inputs in;
  in.add("P0", P0, 61), in.add("U", U, 62), in.add("phi", phi, 63);
  const auto upstream = random_vector(P.size(), 64);
  auto objective = [&]() {
    in.upload();
    hk::generate_parameters_forward(hnet::ExecSpace(), P, P0, U, phi);
    return dot(upstream, to_vector(P));
  };
  objective();
  from_vector(dP, upstream);
  Accumulated<V1> dP0(V1("dP0", p), 65);
  Accumulated<V2> dU(V2("dU", p, dphi), 66), dphi_grad(V2("dphi", B, dphi), 67);
  hnet::View3<double> partials("dphi_partials", B, hk::generate_parameters_chunks(p), dphi);
  hk::generate_parameters_backward(hnet::ExecSpace(), dP0.view, dU.view, dphi_grad.view, dP, U, phi, partials);
  if (all) {
    EXPECT_EQ(in.check("P0", dP0.added(), objective), 0);
    EXPECT_EQ(in.check("U", dU.added(), objective), 0);
  }
  EXPECT_EQ(in.check("phi", dphi_grad.added(), objective), 0);
}

}  // namespace

TEST(GenerateParametersGradcheck, EveryElement) { check_generate(37, true); }

// dφ's reduction over three chunks of U, the last one partial.
TEST(GenerateParametersGradcheck, PhiAcrossChunks) { check_generate(2 * hk::generate_parameters_chunk + 5, false); }
