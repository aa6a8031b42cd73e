// Dense kernels (layer norm, linear, swish, gathers): forward against naive host references in
// double, and determinism in float (two runs bit-identical; a batch equals its members run alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hnet/graph.hpp"
#include "kernels/concat_layernorm.hpp"
#include "kernels/edge_input_backward.hpp"
#include "kernels/edge_input_forward.hpp"
#include "kernels/edge_layernorm.hpp"
#include "kernels/gather.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/activations.hpp"
#include "kernels/linear.hpp"
#include "kernels/pointwise.hpp"
#include "view_utils.hpp"

namespace {

namespace hk = hnet::kernels;
using hnet::testing::from_vector;
using hnet::testing::to_vector;
using Vec = std::vector<double>;

Vec random_vector(std::size_t size, unsigned seed, double scale = 1.0, double mean = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, scale);
  Vec v(size);
  for (double& x : v) x = normal(rng);
  return v;
}

template <class T>
hnet::View3<T> view3(const Vec& values, std::int64_t B, std::int64_t R, std::int64_t C) {
  hnet::View3<T> v("hnet::test::v3", B, R, C);
  from_vector(v, values);
  return v;
}
template <class T>
hnet::View2<T> view2(const Vec& values, std::int64_t B, std::int64_t p) {
  hnet::View2<T> v("hnet::test::v2", B, p);
  from_vector(v, values);
  return v;
}

void expect_near(const Vec& actual, const Vec& expected, double tol, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t k = 0; k < actual.size(); ++k)
    EXPECT_NEAR(actual[k], expected[k], tol * (1.0 + std::fabs(expected[k]))) << what << "[" << k << "]";
}

TEST(LayerNorm, ForwardMatchesHostReference) {
  const std::int64_t B = 2, R = 5, C = 7, off_gain = 2, off_bias = C + 3, p = 2 * C + 4;
  const Vec hx = random_vector(B * R * C, 1, 2.0, 5.0), hP = random_vector(B * p, 2);
  auto x = view3<double>(hx, B, R, C);
  auto P = view2<double>(hP, B, p);
  hnet::View3<double> y("y", B, R, C);
  hnet::View2<double> mean("mean", B, R), rstd("rstd", B, R);
  hk::layernorm_forward(hnet::ExecSpace(), y, mean, rstd, x, P, off_gain, off_bias);
  Vec ry(B * R * C), rmean(B * R), rrstd(B * R);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t r = 0; r < R; ++r) {
      const double* row = &hx[(b * R + r) * C];
      double mu = 0, var = 0;
      for (std::int64_t c = 0; c < C; ++c) mu += row[c] / C;
      for (std::int64_t c = 0; c < C; ++c) var += (row[c] - mu) * (row[c] - mu) / C;
      rmean[b * R + r] = mu, rrstd[b * R + r] = 1 / std::sqrt(var + 1e-5);
      for (std::int64_t c = 0; c < C; ++c)
        ry[(b * R + r) * C + c] = (row[c] - mu) / std::sqrt(var + 1e-5) * hP[b * p + off_gain + c] + hP[b * p + off_bias + c];
    }
  expect_near(to_vector(y), ry, 1e-12, "y");
  expect_near(to_vector(mean), rmean, 1e-12, "mean");
  expect_near(to_vector(rstd), rrstd, 1e-12, "rstd");
}

// The host picks the backward's schedule by thread count (a network per work item, or a row per
// work item plus a gain/bias pass): both must give the same bits in float, which is what keeps
// training independent of the thread count. Widths: a full block of 8 channels and ragged ones.
TEST(LayerNorm, BackwardSchedulesGiveTheSameBits) {
  for (const std::int64_t C : {std::int64_t(7), std::int64_t(32), std::int64_t(45)}) {
    const std::int64_t B = 3, R = 37, off_gain = 1, off_bias = C + 2, p = 2 * C + 3;
    const Vec hx = random_vector(B * R * C, 41, 2.0, 1.0), hP = random_vector(B * p, 42);
    const Vec hdy = random_vector(B * R * C, 43), hdx = random_vector(B * R * C, 44), hdP = random_vector(B * p, 45);
    const auto x = view3<float>(hx, B, R, C), dy = view3<float>(hdy, B, R, C);
    const auto P = view2<float>(hP, B, p);
    hnet::View3<float> y("y", B, R, C);
    hnet::View2<float> mean("mean", B, R), rstd("rstd", B, R);
    const hnet::ExecSpace exec;
    hk::layernorm_forward(exec, y, mean, rstd, x, P, off_gain, off_bias);
    auto dx_rows = view3<float>(hdx, B, R, C), dx_networks = view3<float>(hdx, B, R, C);
    auto dP_rows = view2<float>(hdP, B, p), dP_networks = view2<float>(hdP, B, p);
    hk::layernorm_backward_by_rows(exec, dx_rows, dP_rows, dy, x, P, mean, rstd, off_gain, off_bias, true);
    hk::layernorm_backward_by_network(exec, dx_networks, dP_networks, dy, x, P, mean, rstd, off_gain, off_bias, true);
    EXPECT_EQ(to_vector(dx_networks), to_vector(dx_rows)) << "C = " << C;
    EXPECT_EQ(to_vector(dP_networks), to_vector(dP_rows)) << "C = " << C;
  }
}

// y = x·W + bias, or y += …; shapes cover full register tiles, ragged edges and one output channel.
TEST(Linear, ForwardMatchesHostReference) {
  struct Shape { std::int64_t R, Cin, Cout; };
  for (const Shape s : {Shape{8, 16, 16}, Shape{9, 10, 11}, Shape{13, 5, 1}, Shape{3, 33, 24}, Shape{25, 20, 40},
                        Shape{24, 7, 32}})
    for (const bool bias : {true, false})
      for (const bool accumulate : {false, true}) {
        const std::int64_t B = 2, off_w = 1, off_b = bias ? off_w + s.Cin * s.Cout : -1;
        const std::int64_t p = off_w + s.Cin * s.Cout + s.Cout;
        const Vec hx = random_vector(B * s.R * s.Cin, 3), hP = random_vector(B * p, 4), hy = random_vector(B * s.R * s.Cout, 5);
        auto x = view3<double>(hx, B, s.R, s.Cin);
        auto y = view3<double>(hy, B, s.R, s.Cout);
        auto P = view2<double>(hP, B, p);
        hk::linear_forward(hnet::ExecSpace(), y, x, P, off_w, off_b, accumulate ? hk::Accumulate::yes : hk::Accumulate::no);
        Vec ref(hy.size());
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t r = 0; r < s.R; ++r)
            for (std::int64_t o = 0; o < s.Cout; ++o) {
              double v = bias ? hP[b * p + off_b + o] : 0.0;
              for (std::int64_t i = 0; i < s.Cin; ++i) v += hx[(b * s.R + r) * s.Cin + i] * hP[b * p + off_w + i * s.Cout + o];
              const std::int64_t k = (b * s.R + r) * s.Cout + o;
              ref[k] = accumulate ? hy[k] + v : v;
            }
        expect_near(to_vector(y), ref, 1e-12, "linear y");
      }
}

// y = residual + x·W + bias in one pass: the same bits as copying the residual and accumulating.
TEST(Linear, ResidualEqualsCopyThenAccumulate) {
  const std::int64_t B = 2, R = 25, Cin = 20, Cout = 40, off_w = 0, off_b = Cin * Cout, p = off_b + Cout;
  const Vec hx = random_vector(B * R * Cin, 30), hP = random_vector(B * p, 31), hr = random_vector(B * R * Cout, 32);
  auto x = view3<float>(hx, B, R, Cin);
  auto P = view2<float>(hP, B, p);
  auto residual = view3<float>(hr, B, R, Cout);
  hnet::View3<float> fused("fused", B, R, Cout), stepwise("stepwise", B, R, Cout);
  hk::linear_forward(hnet::ExecSpace(), fused, x, P, off_w, off_b, hk::Accumulate::no, residual);
  Kokkos::deep_copy(stepwise, residual);
  hk::linear_forward(hnet::ExecSpace(), stepwise, x, P, off_w, off_b, hk::Accumulate::yes);
  const auto a = to_vector(fused), b = to_vector(stepwise);
  for (std::size_t k = 0; k < a.size(); ++k) ASSERT_EQ(a[k], b[k]) << "element " << k;
}

// The gradient checks use small shapes; this one runs many full tiles against dense formulas.
// Shapes: full tiles of every host instruction set (4×8, 6×16, 12×16) with ragged edges, and a
// narrow layer (2k = 8 outputs).
TEST(Linear, BackwardMatchesHostReference) {
  struct Shape { std::int64_t R, Cin, Cout; };
  for (const Shape s : {Shape{21, 20, 24}, Shape{50, 37, 48}, Shape{13, 24, 8}}) {
    const std::int64_t B = 2, R = s.R, Cin = s.Cin, Cout = s.Cout, off_w = 0, off_b = Cin * Cout, p = off_b + Cout;
    const Vec hx = random_vector(B * R * Cin, 6), hP = random_vector(B * p, 7), hdy = random_vector(B * R * Cout, 8);
    auto x = view3<double>(hx, B, R, Cin);
    auto dy = view3<double>(hdy, B, R, Cout);
    auto P = view2<double>(hP, B, p);
    hnet::View3<double> dx("dx", B, R, Cin);
    hnet::View2<double> dP("dP", B, p);
    hk::linear_backward(hnet::ExecSpace(), dx, dP, dy, x, P, off_w, off_b);
    Vec rdx(B * R * Cin, 0.0), rdP(B * p, 0.0);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t o = 0; o < Cout; ++o) {
          const double g = hdy[(b * R + r) * Cout + o];
          rdP[b * p + off_b + o] += g;
          for (std::int64_t i = 0; i < Cin; ++i) {
            rdx[(b * R + r) * Cin + i] += g * hP[b * p + off_w + i * Cout + o];
            rdP[b * p + off_w + i * Cout + o] += g * hx[(b * R + r) * Cin + i];
          }
        }
    expect_near(to_vector(dx), rdx, 1e-12, "linear dx");
    expect_near(to_vector(dP), rdP, 1e-12, "linear dP");
  }
}

// The host's schedules by network (a team per network; dW over blocks of 128 rows, each tile's
// sums carried between blocks) against the schedules by tiles: the same bits in float, over row
// counts that cross the blocks, ragged and short register tiles, narrow outputs, with and without bias.
template <int NR>
void expect_linear_schedules_agree(std::int64_t R, std::int64_t Cin, std::int64_t Cout, bool bias) {
  namespace ld = hk::linear_detail;
  const std::int64_t B = 3, off_w = 2, off_b = bias ? off_w + Cin * Cout + 1 : -1, p = off_w + Cin * Cout + Cout + 3;
  const Vec hx = random_vector(B * R * Cin, 51), hP = random_vector(B * p, 52), hdy = random_vector(B * R * Cout, 53);
  const Vec hdx = random_vector(B * R * Cin, 54), hdP = random_vector(B * p, 55);
  const auto x = view3<float>(hx, B, R, Cin), dy = view3<float>(hdy, B, R, Cout);
  const auto P = view2<float>(hP, B, p);
  auto dx_tiles = view3<float>(hdx, B, R, Cin), dx_networks = view3<float>(hdx, B, R, Cin);
  auto dP_tiles = view2<float>(hdP, B, p), dP_networks = view2<float>(hdP, B, p);
  const hnet::ExecSpace exec;
  ld::backward_dx_tiles<hnet::ExecSpace, NR>(exec, dx_tiles, dy, P, off_w, false, true);
  ld::backward_dx_tiles<hnet::ExecSpace, NR>(exec, dx_networks, dy, P, off_w, true, true);
  ld::backward_dw_tiles<hnet::ExecSpace, NR>(exec, dP_tiles, dy, x, off_w, off_b);
  ld::backward_dw_by_network<hnet::ExecSpace, NR>(exec, dP_networks, dy, x, off_w, off_b);
  const std::string shape = "R " + std::to_string(R) + " Cin " + std::to_string(Cin) + " Cout " + std::to_string(Cout);
  EXPECT_EQ(to_vector(dx_networks), to_vector(dx_tiles)) << shape;
  EXPECT_EQ(to_vector(dP_networks), to_vector(dP_tiles)) << shape << (bias ? " with bias" : "");
}

TEST(Linear, BackwardSchedulesGiveTheSameBits) {
  using Tile = hk::linear_detail::Tile<hnet::ExecSpace>;
  for (const std::int64_t R : {std::int64_t(1), std::int64_t(128), std::int64_t(300)})
    for (const std::int64_t Cin : {std::int64_t(10), std::int64_t(37), std::int64_t(64)})
      for (const bool bias : {true, false}) {
        expect_linear_schedules_agree<Tile::cols>(R, Cin, 2 * Tile::cols, bias);
        expect_linear_schedules_agree<Tile::cols>(R, Cin, Tile::cols + 3, bias);
        expect_linear_schedules_agree<8>(R, Cin, 1, bias);  // d → 1 in a tile of 8 (the ragged path)
        expect_linear_schedules_agree<1>(R, Cin, 1, bias);  // … and in the tile of one column
        expect_linear_schedules_agree<8>(R, Cin, 8, bias);  // 2k = 8
      }
}

// One output channel runs in a tile of one column (with_tile_cols): the bits of the tile of 8,
// whose ragged path sums the same chain of multiply-adds.
TEST(Linear, OneColumnTileGivesTheBitsOfTheWiderTile) {
  namespace ld = hk::linear_detail;
  const std::int64_t B = 3, R = 41, Cin = 37, off_w = 2, off_b = off_w + Cin + 1, p = off_b + 3;
  const auto x = view3<float>(random_vector(B * R * Cin, 81), B, R, Cin);
  const auto P = view2<float>(random_vector(B * p, 82), B, p);
  const auto dy = view3<float>(random_vector(B * R, 83), B, R, 1);
  const hnet::ExecSpace exec;
  hnet::View3<float> y1("y1", B, R, 1), y8("y8", B, R, 1), none;
  ld::forward_tiles<hnet::ExecSpace, 1>(exec, y1, x, P, off_w, off_b, false, none, none);
  ld::forward_tiles<hnet::ExecSpace, 8>(exec, y8, x, P, off_w, off_b, false, none, none);
  EXPECT_EQ(to_vector(y1), to_vector(y8));
  hnet::View2<float> dP1("dP1", B, p), dP8("dP8", B, p);
  ld::backward_dw_by_network<hnet::ExecSpace, 1>(exec, dP1, dy, x, off_w, off_b);
  ld::backward_dw_by_network<hnet::ExecSpace, 8>(exec, dP8, dy, x, off_w, off_b);
  EXPECT_EQ(to_vector(dP1), to_vector(dP8));
}

TEST(Linear, RefusesToAddThroughASwishSlope) {
  const std::int64_t B = 2, R = 3, C = 4;
  hnet::View3<float> dx("dx", B, R, C), dy("dy", B, R, C), x("x", B, R, C), slope("slope", B, R, C);
  hnet::View2<float> P("P", B, C * C), dP("dP", B, C * C);
  EXPECT_THROW(hk::linear_backward(hnet::ExecSpace(), dx, dP, dy, x, P, 0, -1, hk::Accumulate::yes, slope),
               std::invalid_argument);
}

// The float swish takes e^−|z| from a polynomial instead of libm (kernels/activations.hpp), so that
// it vectorises; over [-87, 87] in steps of 2^-12 it must stay within 2 ulp of the correctly
// rounded value, give a tiny normal number beyond, and the float swish must match the double one.
TEST(Swish, FloatExponentialIsWithinTwoUlp) {
  double worst = 0.0;
  for (double x = -87.0; x <= 87.0; x += 1.0 / 4096.0) {
    const float xf = static_cast<float>(x);
    const float got = hk::exp_neg_abs(xf);
    const float want = static_cast<float>(std::exp(-std::fabs(static_cast<double>(xf))));
    const double ulp = std::nextafter(want, 1e30f) - want;
    worst = std::max(worst, std::fabs(static_cast<double>(got) - want) / ulp);
  }
  EXPECT_LE(worst, 2.0);
  for (const float far : {-200.0f, 200.0f, -1e30f, std::numeric_limits<float>::infinity()}) {
    EXPECT_GT(hk::exp_neg_abs(far), 0.0f) << far;
    EXPECT_LT(hk::exp_neg_abs(far), 2e-38f) << far;
  }
  EXPECT_EQ(hk::exp_neg_abs(0.0f), 1.0f);
  for (double z = -40.0; z <= 40.0; z += 0.01) {
    const double want = z / (1.0 + std::exp(-z));
    EXPECT_NEAR(hk::swish(static_cast<float>(z)), want, 3e-7 * std::max(1.0, std::fabs(want))) << z;
  }
}

#if defined(HNET_HOST_LANES)
// The host's tile epilogues take swish and swish′ on whole vectors (kernels/activations.hpp,
// lanes::): every lane must give the scalar function's bits, beyond the exponential's cap too.
TEST(Swish, VectorLanesGiveTheScalarBits) {
  typedef float V __attribute__((vector_size(64)));
  std::vector<float> z;
  for (double x = -100.0; x <= 100.0; x += 1.0 / 64.0) z.push_back(static_cast<float>(x));
  for (const float special : {0.0f, -0.0f, 1e-40f, -1e-40f, 87.0f, -87.0f, 88.7f, -88.7f, 1e30f, -1e30f})
    z.push_back(special);
  while (z.size() % 16) z.push_back(0.5f);
  for (std::size_t k = 0; k < z.size(); k += 16) {
    V v;
    std::memcpy(&v, &z[k], sizeof v);
    const V s = hk::lanes::swish(v), d = hk::lanes::swish_derivative(v), g = hk::lanes::sigmoid(v);
    for (int w = 0; w < 16; ++w) {
      EXPECT_EQ(hnet::compat::bits_of(s[w]), hnet::compat::bits_of(hk::swish(z[k + w]))) << z[k + w];
      EXPECT_EQ(hnet::compat::bits_of(d[w]), hnet::compat::bits_of(hk::swish_derivative(z[k + w]))) << z[k + w];
      EXPECT_EQ(hnet::compat::bits_of(g[w]), hnet::compat::bits_of(hk::sigmoid(z[k + w]))) << z[k + w];
    }
  }
}
#endif

TEST(Swish, ForwardMatchesHostReference) {
  const std::int64_t B = 2, R = 3, C = 9;
  const Vec hx = random_vector(B * R * C, 9, 20.0);  // wide enough that exp(−x) would overflow in a naive form
  auto x = view3<double>(hx, B, R, C);
  hnet::View3<double> y("y", B, R, C);
  hk::swish_forward(hnet::ExecSpace(), y, x);
  Vec ref(hx.size());
  for (std::size_t k = 0; k < hx.size(); ++k) ref[k] = hx[k] / (1.0 + std::exp(-hx[k]));
  expect_near(to_vector(y), ref, 1e-14, "swish y");
}

TEST(EdgeInputs, ForwardConcatenatesEdgeSourceAndTarget) {
  const std::int64_t n = 3, m = 4, B = 2, d = 5;
  const auto graph = hnet::build_graph(n, m);
  const std::int64_t N = n + m + 1, E = n * m + m;
  const Vec he = random_vector(B * E * d, 10), hh = random_vector(B * N * d, 11);
  auto e = view3<double>(he, B, E, d);
  auto h = view3<double>(hh, B, N, d);
  hnet::View3<double> g("g", B, E, 3 * d);
  hk::edge_inputs_forward(hnet::ExecSpace(), g, e, h, graph);
  // Endpoints from model.md §3 directly, not from the graph arrays the kernel reads.
  Vec ref(B * E * 3 * d);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t k = 0; k < E; ++k) {
      const std::int64_t s = k < n * m ? k / m : n + (k - n * m), t = k < n * m ? n + k % m : n + m;
      for (std::int64_t c = 0; c < d; ++c) {
        ref[(b * E + k) * 3 * d + c] = he[(b * E + k) * d + c];
        ref[(b * E + k) * 3 * d + d + c] = hh[(b * N + s) * d + c];
        ref[(b * E + k) * 3 * d + 2 * d + c] = hh[(b * N + t) * d + c];
      }
    }
  EXPECT_EQ(to_vector(g), ref);
}

// The fused edge input + layer norm against the gather and the layer norm run as two kernels, in
// float: the same bits forward (y, mean, rstd) and backward (de, dh, dP added to non-zero buffers).
// d = 5 leaves ragged tails in the row sums, d = 16 none; the second graph is the paper's (48
// incidences at the output node, 816 rows in the gain and bias sums). Mutation-checked: one ulp
// more on one element of the fused dx fails it (dh); a reversed edge order does not (double sums of
// float terms round to the same float in either order).
void expect_fused_edge_layernorm_bits(std::int64_t n, std::int64_t m, std::int64_t d) {
  using F3 = hnet::View3<float>;
  using F2 = hnet::View2<float>;
  const std::int64_t B = 3, C = 3 * d, off_gain = 2, off_bias = C + 5, p = 2 * C + 7;
  const auto graph = hnet::build_graph(n, m);
  const std::int64_t N = graph.nodes, E = graph.edges;
  const hnet::ExecSpace exec;
  const auto e = view3<float>(random_vector(B * E * d, 21, 1.5, 0.4), B, E, d);
  const auto h = view3<float>(random_vector(B * N * d, 22), B, N, d);
  const auto P = view2<float>(random_vector(B * p, 23, 1.0, 0.5), B, p);
  const auto dy = view3<float>(random_vector(B * E * C, 24), B, E, C);
  const Vec de0 = random_vector(B * E * d, 25), dh0 = random_vector(B * N * d, 26), dP0 = random_vector(B * p, 27);
  std::vector<Vec> fused, apart;
  {
    F3 y("y", B, E, C);
    F2 mean("mean", B, E), rstd("rstd", B, E);
    auto de = view3<float>(de0, B, E, d), dh = view3<float>(dh0, B, N, d);
    auto dP = view2<float>(dP0, B, p);
    hk::edge_inputs_layernorm_forward(exec, y, mean, rstd, e, h, graph, P, off_gain, off_bias);
    hk::edge_inputs_layernorm_backward(exec, de, dh, dP, dy, e, h, graph, P, mean, rstd, off_gain, off_bias);
    fused = {to_vector(y), to_vector(mean), to_vector(rstd), to_vector(de), to_vector(dh), to_vector(dP)};
  }
  {
    F3 g("g", B, E, C), dg("dg", B, E, C), y("y", B, E, C);
    F2 mean("mean", B, E), rstd("rstd", B, E);
    auto de = view3<float>(de0, B, E, d), dh = view3<float>(dh0, B, N, d);
    auto dP = view2<float>(dP0, B, p);
    hk::edge_inputs_forward(exec, g, e, h, graph);
    hk::layernorm_forward(exec, y, mean, rstd, g, P, off_gain, off_bias);
    hk::layernorm_backward(exec, dg, dP, dy, g, P, mean, rstd, off_gain, off_bias, hk::Accumulate::no);
    hk::edge_inputs_backward(exec, de, dh, dg, graph);
    apart = {to_vector(y), to_vector(mean), to_vector(rstd), to_vector(de), to_vector(dh), to_vector(dP)};
  }
  const char* names[] = {"y", "mean", "rstd", "de", "dh", "dP"};
  for (std::size_t k = 0; k < fused.size(); ++k) EXPECT_EQ(fused[k], apart[k]) << names[k];
}

TEST(EdgeLayerNorm, FusedGivesTheBitsOfTheGatherAndTheLayerNorm) {
  expect_fused_edge_layernorm_bits(3, 4, 5);
  expect_fused_edge_layernorm_bits(16, 48, 16);
}

// The latent channel's concatenation and its layer norm in one pass (kernels/concat_layernorm.hpp)
// against concat_forward + layernorm_forward and layernorm_backward (dx assigned) +
// concat_backward, in float: the same y, mean, rstd and the same da, db, dP bits, added to
// non-zero buffers (db absent once, as when the encoder needs no gradient). Widths 5 + 7 give the
// row sums ragged tails; 64 + 64 is the paper's edge level (816 rows).
void expect_concat_layernorm_bits(std::int64_t R, std::int64_t ca, std::int64_t cb, bool with_db) {
  using F3 = hnet::View3<float>;
  using F2 = hnet::View2<float>;
  const hnet::ExecSpace exec;
  const std::int64_t B = 2 * exec.concurrency() + 1, C = ca + cb, off_gain = 3, off_bias = C + 4, p = 2 * C + 6;
  ASSERT_TRUE(hk::concat_layernorm_fused(exec, B));
  const auto a = view3<float>(random_vector(B * R * ca, 41, 1.5, 0.4), B, R, ca);
  const auto b = view3<float>(random_vector(B * R * cb, 42), B, R, cb);
  const auto P = view2<float>(random_vector(B * p, 43, 0.3, 1.0), B, p);
  const auto dy = view3<float>(random_vector(B * R * C, 44), B, R, C);
  const Vec da0 = random_vector(B * R * ca, 45), db0 = random_vector(B * R * cb, 46), dP0 = random_vector(B * p, 47);
  std::vector<Vec> fused, apart;
  {
    F3 y("y", B, R, C);
    F2 mean("mean", B, R), rstd("rstd", B, R);
    auto da = view3<float>(da0, B, R, ca), db = with_db ? view3<float>(db0, B, R, cb) : F3();
    auto dP = view2<float>(dP0, B, p);
    hk::concat_layernorm_forward(exec, y, mean, rstd, a, b, P, off_gain, off_bias);
    hk::concat_layernorm_backward(exec, da, db, dP, dy, a, b, P, mean, rstd, off_gain, off_bias);
    fused = {to_vector(y), to_vector(mean), to_vector(rstd), to_vector(da), with_db ? to_vector(db) : Vec(),
             to_vector(dP)};
  }
  {
    F3 x("x", B, R, C), y("y", B, R, C), dx("dx", B, R, C);
    F2 mean("mean", B, R), rstd("rstd", B, R);
    auto da = view3<float>(da0, B, R, ca), db = with_db ? view3<float>(db0, B, R, cb) : F3();
    auto dP = view2<float>(dP0, B, p);
    hk::concat_forward(exec, x, a, b);
    hk::layernorm_forward(exec, y, mean, rstd, x, P, off_gain, off_bias);
    hk::layernorm_backward(exec, dx, dP, dy, x, P, mean, rstd, off_gain, off_bias, hk::Accumulate::no);
    hk::concat_backward(exec, da, db, dx);
    apart = {to_vector(y), to_vector(mean), to_vector(rstd), to_vector(da), with_db ? to_vector(db) : Vec(),
             to_vector(dP)};
  }
  const char* names[] = {"y", "mean", "rstd", "da", "db", "dP"};
  for (std::size_t k = 0; k < fused.size(); ++k) EXPECT_EQ(fused[k], apart[k]) << names[k];
}

TEST(ConcatLayerNorm, FusedGivesTheBitsOfTheConcatAndTheLayerNorm) {
  expect_concat_layernorm_bits(6, 5, 7, true);
  expect_concat_layernorm_bits(6, 5, 7, false);
  expect_concat_layernorm_bits(816, 64, 64, true);
}

// The edge input, its layer norm and the edge MLP fused (kernels/edge_input_forward.hpp: both
// layers, the second joining the edge stream; kernels/edge_input_backward.hpp: the first layer's
// dx, dW, dbias and the layer norm) against edge_inputs_layernorm_forward + linear_swish_forward +
// linear_forward (with the residual) and linear_backward (dx assigned, dW, dbias) +
// edge_inputs_layernorm_backward, in float, four networks per thread: the same activated, slope,
// mean, rstd and e_mid, and the same de, dh and dP bits, added to non-zero buffers. d = 5 gives the
// layer ragged tiles (15 = 12 + 3 rows of dW, 15 = 8 + 7 columns of dx, 5 of 8 columns of the second
// layer) and the row sums ragged tails; the second graph is the paper's (816 edges: six of dW's
// 120-row blocks and a ragged seventh) at the paper's 3d → 2d → d shapes; the third has no biases
// and stops after the first layer.
void expect_edge_input_layer_bits(std::int64_t n, std::int64_t m, std::int64_t d, std::int64_t Cout, bool bias,
                                  bool second) {
  using F3 = hnet::View3<float>;
  using F2 = hnet::View2<float>;
  const hnet::ExecSpace exec;
  const std::int64_t B = 4 * exec.concurrency(), C = 3 * d, off_gain = 2, off_bias = C + 5;
  const std::int64_t off_w = 2 * C + 7, off_b = bias ? off_w + C * Cout + 3 : -1;
  const std::int64_t off_w2 = off_w + C * Cout + Cout + 4, off_b2 = bias ? off_w2 + Cout * d + 1 : -1;
  const std::int64_t p = off_w2 + Cout * d + d + 2;
  const auto graph = hnet::build_graph(n, m);
  const std::int64_t N = graph.nodes, E = graph.edges;
  ASSERT_TRUE(hk::edge_input_backward_fused(exec, B));
  const auto e = view3<float>(random_vector(B * E * d, 31, 1.5, 0.4), B, E, d);
  const auto h = view3<float>(random_vector(B * N * d, 32), B, N, d);
  const auto P = view2<float>(random_vector(B * p, 33, 0.3, 0.1), B, p);
  const auto dz = view3<float>(random_vector(B * E * Cout, 34), B, E, Cout);
  const Vec de0 = random_vector(B * E * d, 35), dh0 = random_vector(B * N * d, 36), dP0 = random_vector(B * p, 37);
  std::vector<Vec> fused, apart;
  {
    F3 activated("activated", B, E, Cout), slope("slope", B, E, Cout), e_mid("e_mid", B, E, d);
    F2 mean("mean", B, E), rstd("rstd", B, E);
    auto de = view3<float>(de0, B, E, d), dh = view3<float>(dh0, B, N, d);
    auto dP = view2<float>(dP0, B, p);
    hk::EdgeMlpSecondLayer<hnet::ExecSpace, float> layer2;
    if (second) layer2 = {e_mid, e, off_w2, off_b2};
    hk::edge_input_forward(exec, activated, slope, mean, rstd, e, h, graph, P, off_gain, off_bias, off_w, off_b,
                           layer2);
    hk::edge_input_backward(exec, de, dh, dP, dz, off_w, off_b, e, h, graph, P, mean, rstd, off_gain, off_bias);
    fused = {to_vector(activated), to_vector(slope), to_vector(mean), to_vector(rstd), to_vector(e_mid),
             to_vector(de),        to_vector(dh),    to_vector(dP)};
  }
  {
    F3 y("y", B, E, C), dy("dy", B, E, C), activated("activated", B, E, Cout), slope("slope", B, E, Cout);
    F3 e_mid("e_mid", B, E, d);
    F2 mean("mean", B, E), rstd("rstd", B, E);
    auto de = view3<float>(de0, B, E, d), dh = view3<float>(dh0, B, N, d);
    auto dP = view2<float>(dP0, B, p);
    hk::edge_inputs_layernorm_forward(exec, y, mean, rstd, e, h, graph, P, off_gain, off_bias);
    hk::linear_swish_forward(exec, activated, slope, y, P, off_w, off_b);
    if (second) hk::linear_forward(exec, e_mid, activated, P, off_w2, off_b2, hk::Accumulate::no, e);
    hk::linear_backward(exec, dy, dP, dz, y, P, off_w, off_b, hk::Accumulate::no);
    hk::edge_inputs_layernorm_backward(exec, de, dh, dP, dy, e, h, graph, P, mean, rstd, off_gain, off_bias);
    apart = {to_vector(activated), to_vector(slope), to_vector(mean), to_vector(rstd), to_vector(e_mid),
             to_vector(de),        to_vector(dh),    to_vector(dP)};
  }
  const char* names[] = {"activated", "slope", "mean", "rstd", "e_mid", "de", "dh", "dP"};
  for (std::size_t k = 0; k < fused.size(); ++k) EXPECT_EQ(fused[k], apart[k]) << names[k];
}

TEST(EdgeInputLayer, FusedGivesTheBitsOfTheGatherTheLayerNormAndTheMlp) {
  expect_edge_input_layer_bits(3, 4, 5, 6, true, true);
  expect_edge_input_layer_bits(16, 48, 16, 32, true, true);
  expect_edge_input_layer_bits(5, 7, 4, 8, false, false);
}

TEST(Concat, ForwardPlacesBothHalves) {
  const std::int64_t B = 2, R = 3, Ca = 2, Cb = 5;
  const Vec ha = random_vector(B * R * Ca, 12), hb = random_vector(B * R * Cb, 13);
  hnet::View3<double> y("y", B, R, Ca + Cb);
  hk::concat_forward(hnet::ExecSpace(), y, view3<double>(ha, B, R, Ca), view3<double>(hb, B, R, Cb));
  Vec ref;
  for (std::int64_t row = 0; row < B * R; ++row) {
    ref.insert(ref.end(), ha.begin() + row * Ca, ha.begin() + (row + 1) * Ca);
    ref.insert(ref.end(), hb.begin() + row * Cb, hb.begin() + (row + 1) * Cb);
  }
  EXPECT_EQ(to_vector(y), ref);
}

TEST(CopyRows, ForwardCopiesTheRowRange) {
  const std::int64_t B = 2, Rsrc = 9, R = 4, C = 3, row0 = 5;
  const Vec hs = random_vector(B * Rsrc * C, 14);
  hnet::View3<double> dst("dst", B, R, C);
  hk::copy_rows_forward(hnet::ExecSpace(), dst, view3<double>(hs, B, Rsrc, C), row0);
  Vec ref;
  for (std::int64_t b = 0; b < B; ++b)
    ref.insert(ref.end(), hs.begin() + (b * Rsrc + row0) * C, hs.begin() + (b * Rsrc + row0 + R) * C);
  EXPECT_EQ(to_vector(dst), ref);
}

TEST(TypeEmbedding, ForwardLooksUpEachRowsType) {
  const std::int64_t n = 2, m = 3, B = 2, C = 4, off = 1, p = off + 3 * C;
  const auto graph = hnet::build_graph(n, m);
  const std::int64_t R = graph.nodes;
  const Vec hP = random_vector(B * p, 15), hy = random_vector(B * R * C, 16);
  auto P = view2<double>(hP, B, p);
  for (const bool accumulate : {false, true}) {
    auto y = view3<double>(hy, B, R, C);
    hk::type_embedding_forward(hnet::ExecSpace(), y, graph.node_type, P, off, accumulate);
    Vec ref(hy.size());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t r = 0; r < R; ++r) {
        const std::int64_t t = r < n ? 0 : r < n + m ? 1 : 2;  // input, hidden, output (model.md §3)
        for (std::int64_t c = 0; c < C; ++c) {
          const std::int64_t k = (b * R + r) * C + c;
          ref[k] = (accumulate ? hy[k] : 0.0) + hP[b * p + off + t * C + c];
        }
      }
    EXPECT_EQ(to_vector(y), ref);
  }
}

// Every kernel forward and backward in float on one batch. Inputs are batch-first, so network b's
// data is block b of each vector and a batch can be cut into single networks.
struct DenseRun {
  static constexpr std::int64_t R = 67, C = 20, Cin = 33, Cout = 20, n = 3, m = 5, d = 12, Rsrc = 70, row0 = 2;
  static constexpr std::int64_t N = n + m + 1, E = n * m + m, p_ln = 2 * C, p_lin = Cin * Cout + Cout, p_type = 3 * d;
  std::int64_t B;
  std::vector<Vec> in;  // in the order of the names below

  enum Input { x, dy, P_ln, P_lin, dy_lin, e, h, dg, a, dcat, src, dcopy, P_type, count };
  static std::int64_t per_network(int k) {
    switch (k) {
      case x: case dy: return R * C;
      case P_ln: return p_ln;
      case P_lin: return p_lin;
      case dy_lin: return R * Cout;
      case e: return E * d;
      case h: return N * d;
      case dg: return E * 3 * d;
      case a: return R * Cin;
      case dcat: return R * (Cin + C);
      case src: return Rsrc * C;
      case dcopy: return (Rsrc - row0 - 1) * C;
      default: return p_type;
    }
  }

  explicit DenseRun(std::int64_t batch) : B(batch), in(count) {
    for (int k = 0; k < count; ++k) in[k] = random_vector(B * per_network(k), 100 + k);
  }
  DenseRun member(std::int64_t b) const {
    DenseRun one(1);
    for (int k = 0; k < count; ++k) {
      const std::int64_t size = per_network(k);
      one.in[k].assign(in[k].begin() + b * size, in[k].begin() + (b + 1) * size);
    }
    return one;
  }

  // Returns every output and gradient, each batch-first.
  std::vector<Vec> run() const {
    using F3 = hnet::View3<float>;
    using F2 = hnet::View2<float>;
    const hnet::ExecSpace exec;
    const auto graph = hnet::build_graph(n, m);
    std::vector<Vec> out;
    {
      auto vx = view3<float>(in[x], B, R, C), vdy = view3<float>(in[dy], B, R, C);
      auto P = view2<float>(in[P_ln], B, p_ln);
      F3 y("y", B, R, C), dx("dx", B, R, C);
      F2 mean("mean", B, R), rstd("rstd", B, R), dP("dP", B, p_ln);
      hk::layernorm_forward(exec, y, mean, rstd, vx, P, 0, C);
      hk::layernorm_backward(exec, dx, dP, vdy, vx, P, mean, rstd, 0, C);
      for (auto v : {to_vector(y), to_vector(mean), to_vector(rstd), to_vector(dx), to_vector(dP)}) out.push_back(v);
    }
    {
      auto vx = view3<float>(in[a], B, R, Cin), vdy = view3<float>(in[dy_lin], B, R, Cout);
      auto P = view2<float>(in[P_lin], B, p_lin);
      F3 y("y", B, R, Cout), dx("dx", B, R, Cin);
      F2 dP("dP", B, p_lin);
      hk::linear_forward(exec, y, vx, P, 0, Cin * Cout, hk::Accumulate::no);
      hk::linear_backward(exec, dx, dP, vdy, vx, P, 0, Cin * Cout);
      for (auto v : {to_vector(y), to_vector(dx), to_vector(dP)}) out.push_back(v);
    }
    {
      auto vx = view3<float>(in[x], B, R, C), vdy = view3<float>(in[dy], B, R, C);
      F3 y("y", B, R, C), dx("dx", B, R, C);
      hk::swish_forward(exec, y, vx);
      hk::swish_backward(exec, dx, vdy, vx);
      for (auto v : {to_vector(y), to_vector(dx)}) out.push_back(v);
    }
    {
      auto ve = view3<float>(in[e], B, E, d), vh = view3<float>(in[h], B, N, d);
      auto vdg = view3<float>(in[dg], B, E, 3 * d);
      F3 g("g", B, E, 3 * d), de("de", B, E, d), dh("dh", B, N, d);
      hk::edge_inputs_forward(exec, g, ve, vh, graph);
      hk::edge_inputs_backward(exec, de, dh, vdg, graph);
      for (auto v : {to_vector(g), to_vector(de), to_vector(dh)}) out.push_back(v);
    }
    {
      auto va = view3<float>(in[a], B, R, Cin), vb = view3<float>(in[x], B, R, C);
      auto vdy = view3<float>(in[dcat], B, R, Cin + C);
      F3 y("y", B, R, Cin + C), da("da", B, R, Cin), db("db", B, R, C);
      hk::concat_forward(exec, y, va, vb);
      hk::concat_backward(exec, da, db, vdy);
      for (auto v : {to_vector(y), to_vector(da), to_vector(db)}) out.push_back(v);
    }
    {
      auto vsrc = view3<float>(in[src], B, Rsrc, C);
      auto vdd = view3<float>(in[dcopy], B, Rsrc - row0 - 1, C);
      F3 dst("dst", B, Rsrc - row0 - 1, C), dsrc("dsrc", B, Rsrc, C);
      hk::copy_rows_forward(exec, dst, vsrc, row0);
      hk::copy_rows_backward(exec, dsrc, vdd, row0);
      for (auto v : {to_vector(dst), to_vector(dsrc)}) out.push_back(v);
    }
    {
      auto P = view2<float>(in[P_type], B, p_type);
      auto vdy = view3<float>(in[h], B, N, d);
      F3 y("y", B, N, d);
      F2 dP("dP", B, p_type);
      hk::type_embedding_forward(exec, y, graph.node_type, P, 0, false);
      hk::type_embedding_backward(exec, dP, vdy, graph.node_type, 0, 3);
      for (auto v : {to_vector(y), to_vector(dP)}) out.push_back(v);
    }
    return out;
  }
};

TEST(DenseKernels, TwoRunsAreBitIdentical) {
  const DenseRun problem(4);
  const auto first = problem.run(), second = problem.run();
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t k = 0; k < first.size(); ++k) {
    ASSERT_EQ(first[k].size(), second[k].size());
    EXPECT_EQ(std::memcmp(first[k].data(), second[k].data(), first[k].size() * sizeof(double)), 0) << "output " << k;
  }
}

TEST(DenseKernels, BatchEqualsItsMembersRunAlone) {
  const std::int64_t B = 3;
  const DenseRun problem(B);
  const auto all = problem.run();
  for (std::int64_t b = 0; b < B; ++b) {
    const auto one = problem.member(b).run();
    ASSERT_EQ(one.size(), all.size());
    for (std::size_t k = 0; k < all.size(); ++k) {
      const std::size_t block = one[k].size();
      ASSERT_EQ(block * B, all[k].size());
      EXPECT_EQ(std::memcmp(one[k].data(), all[k].data() + b * block, block * sizeof(double)), 0)
          << "output " << k << ", network " << b;
    }
  }
}

// A backward kernel's assign mode (Accumulate::no) writes exactly what its add mode adds to a
// zeroed buffer, whatever the buffer held before: the model does not clear the buffers it assigns
// (GradStart::assigned), so a stale value, here a NaN, must not survive. Batches of 3 and 16
// networks take both host schedules of the linear and layer-norm backward.
template <class Backward>
void expect_assign_equals_add_to_zero(const char* what, std::int64_t B, std::int64_t R, std::int64_t C,
                                      const Backward& backward) {
  hnet::View3<float> added("added", B, R, C), assigned("assigned", B, R, C);
  Kokkos::deep_copy(assigned, std::numeric_limits<float>::quiet_NaN());
  backward(added, hk::Accumulate::yes);
  backward(assigned, hk::Accumulate::no);
  EXPECT_EQ(to_vector(assigned), to_vector(added)) << what << ", B = " << B;
}

TEST(AssignMode, BackwardKernelsOverwriteWhatTheBufferHeld) {
  const hnet::ExecSpace exec;
  for (const std::int64_t B : {std::int64_t(3), std::int64_t(16)}) {
    const std::int64_t R = 37, Cin = 24, Cout = 20, off_w = 2, off_b = off_w + Cin * Cout, p = off_b + Cout + 3;
    const auto x = view3<float>(random_vector(B * R * Cin, 61), B, R, Cin);
    const auto dy = view3<float>(random_vector(B * R * Cout, 62), B, R, Cout);
    const auto P = view2<float>(random_vector(B * p, 63, 1.0, 0.5), B, p);
    expect_assign_equals_add_to_zero("linear dx", B, R, Cin, [&](const hnet::View3<float>& dx, hk::Accumulate mode) {
      hnet::View2<float> dP("dP", B, p);
      hk::linear_backward(exec, dx, dP, dy, x, P, off_w, off_b, mode);
    });
    hnet::View3<float> y("y", B, R, Cin);
    hnet::View2<float> mean("mean", B, R), rstd("rstd", B, R);
    hk::layernorm_forward(exec, y, mean, rstd, x, P, off_w, off_w + Cin);
    const auto dy_norm = view3<float>(random_vector(B * R * Cin, 64), B, R, Cin);
    expect_assign_equals_add_to_zero("layer norm dx", B, R, Cin, [&](const hnet::View3<float>& dx, hk::Accumulate mode) {
      hnet::View2<float> dP("dP", B, p);
      hk::layernorm_backward(exec, dx, dP, dy_norm, x, P, mean, rstd, off_w, off_w + Cin, mode);
    });
  }
}

// The swish fused into a linear layer (forward: activated = swish(y) and slope = swish′(y);
// backward: dx through the slope) gives the bits of the separate kernels, on both host schedules
// (3 and 16 networks), full and narrow register tiles and ragged rows.
TEST(Linear, FusedSwishGivesTheSeparateKernelsBits) {
  const hnet::ExecSpace exec;
  for (const std::int64_t B : {std::int64_t(3), std::int64_t(16)})
    for (const std::int64_t H : {std::int64_t(8), std::int64_t(40)}) {
      const std::int64_t R = 29, Cin = 12, Cout = 24, off_w = 1, off_b = off_w + Cin * H;
      const std::int64_t off_w2 = off_b + H, off_b2 = off_w2 + H * Cout, p = off_b2 + Cout;
      const auto x = view3<float>(random_vector(B * R * Cin, 71), B, R, Cin);
      const auto P = view2<float>(random_vector(B * p, 72, 0.5), B, p);
      const auto dy = view3<float>(random_vector(B * R * Cout, 73), B, R, Cout);
      hnet::View3<float> slope("slope", B, R, H), act("act", B, R, H), pre_apart("pre_apart", B, R, H),
          act_apart("act_apart", B, R, H);
      hk::linear_swish_forward(exec, act, slope, x, P, off_w, off_b);
      hk::linear_forward(exec, pre_apart, x, P, off_w, off_b, hk::Accumulate::no);
      hk::swish_forward(exec, act_apart, pre_apart);
      const std::string shape = "B " + std::to_string(B) + " H " + std::to_string(H);
      EXPECT_EQ(to_vector(act), to_vector(act_apart)) << shape;
      const auto pre = to_vector(pre_apart), slopes = to_vector(slope);
      for (std::size_t k = 0; k < pre.size(); ++k)
        ASSERT_EQ(slopes[k], hk::swish_derivative(static_cast<float>(pre[k]))) << shape << " element " << k;
      hnet::View3<float> dpre("dpre", B, R, H), dact("dact", B, R, H), dpre_apart("dpre_apart", B, R, H);
      hnet::View2<float> dP("dP", B, p), dP_apart("dP_apart", B, p);
      hk::linear_backward(exec, dpre, dP, dy, act, P, off_w2, off_b2, hk::Accumulate::no, slope);
      hk::linear_backward(exec, dact, dP_apart, dy, act, P, off_w2, off_b2, hk::Accumulate::no);
      hk::swish_backward(exec, dpre_apart, dact, pre_apart);  // added to zeros
      EXPECT_EQ(to_vector(dpre), to_vector(dpre_apart)) << shape;
      EXPECT_EQ(to_vector(dP), to_vector(dP_apart)) << shape;
    }
}

}  // namespace
