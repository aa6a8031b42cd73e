// Finite-difference checks of the dense kernels' backward passes (layer norm, linear, swish,
// gathers) in double, for every element of every input and parameter gradient. Each gradient
// buffer starts with random content and the check differentiates (after − before), so it also
// proves that backward accumulates and leaves untouched elements (unused parameters) alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "hnet/graph.hpp"
#include "kernels/concat_layernorm.hpp"
#include "kernels/edge_input_backward.hpp"
#include "kernels/edge_input_forward.hpp"
#include "kernels/edge_layernorm.hpp"
#include "kernels/gather.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/linear.hpp"
#include "kernels/pointwise.hpp"
#include "view_utils.hpp"

namespace {

namespace hk = hnet::kernels;
using hnet::testing::check_gradient;
using hnet::testing::dot;
using hnet::testing::from_vector;
using hnet::testing::to_vector;
using V1i = hnet::View1<int>;
using V2 = hnet::View2<double>;
using V3 = hnet::View3<double>;

std::vector<double> random_vector(std::size_t size, unsigned seed, double scale = 1.0, double mean = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, scale);
  std::vector<double> v(size);
  for (double& x : v) x = normal(rng);
  return v;
}

// A gradient buffer pre-filled with random "earlier" gradients; delta() is what backward added.
template <class View>
struct GradBuffer {
  View view;
  std::vector<double> before;
  GradBuffer(const View& v, unsigned seed) : view(v), before(random_vector(v.span(), seed)) {
    from_vector(view, before);
  }
  std::vector<double> delta() const {
    std::vector<double> after = to_vector(view);
    for (std::size_t k = 0; k < after.size(); ++k) after[k] -= before[k];
    return after;
  }
};

int check(const std::string& name, std::vector<double>& values, const std::vector<double>& analytic,
          const std::function<double()>& objective) {
  EXPECT_EQ(values.size(), analytic.size()) << name;
  return check_gradient(name, values.data(), analytic.data(), static_cast<std::int64_t>(values.size()), objective);
}

TEST(LayerNormGradcheck, EveryElement) {
  const std::int64_t B = 2, R = 3, C = 5, off_gain = 1, off_bias = C + 2, p = 2 * C + 3;
  V3 x("x", B, R, C), y("y", B, R, C), dy("dy", B, R, C);
  V2 mean("mean", B, R), rstd("rstd", B, R), P("P", B, p);
  auto hx = random_vector(x.span(), 1, 1.5, 0.3), hP = random_vector(P.span(), 2, 1.0, 0.5);
  const auto up = random_vector(y.span(), 3);
  auto objective = [&]() {
    from_vector(x, hx), from_vector(P, hP);
    hk::layernorm_forward(hnet::ExecSpace(), y, mean, rstd, x, P, off_gain, off_bias);
    return dot(up, to_vector(y));
  };
  objective();
  GradBuffer<V3> dx(V3("dx", B, R, C), 4);
  GradBuffer<V2> dP(V2("dP", B, p), 5);
  from_vector(dy, up);
  hk::layernorm_backward(hnet::ExecSpace(), dx.view, dP.view, dy, x, P, mean, rstd, off_gain, off_bias);
  EXPECT_EQ(check("layernorm dx", hx, dx.delta(), objective), 0);
  EXPECT_EQ(check("layernorm dP", hP, dP.delta(), objective), 0);
}

// Shapes straddle the register tiles (SSE2 4 × 8; AVX2 6 × 16 with the narrow 6 × 8; AVX-512 12 × 32
// with 12 × 16 and 12 × 8): full tiles and ragged edges, short vector tiles (dW: 10 = 6 + 4 and
// 35 = 2 · 12 + 11 input rows) among them.
TEST(LinearGradcheck, EveryElementWithBias) {
  struct Shape { std::int64_t R, Cin, Cout; };
  for (const Shape s : {Shape{9, 10, 11}, Shape{14, 35, 34}}) {
    const std::int64_t B = 2, R = s.R, Cin = s.Cin, Cout = s.Cout, off_w = 3, off_b = off_w + Cin * Cout + 1;
    const std::int64_t p = off_b + Cout + 2;
    V3 x("x", B, R, Cin), y("y", B, R, Cout), dy("dy", B, R, Cout);
    V2 P("P", B, p);
    auto hx = random_vector(x.span(), 11), hP = random_vector(P.span(), 12, 0.5);
    const auto up = random_vector(y.span(), 13);
    auto objective = [&]() {
      from_vector(x, hx), from_vector(P, hP);
      hk::linear_forward(hnet::ExecSpace(), y, x, P, off_w, off_b, hk::Accumulate::no);
      return dot(up, to_vector(y));
    };
    objective();
    GradBuffer<V3> dx(V3("dx", B, R, Cin), 14);
    GradBuffer<V2> dP(V2("dP", B, p), 15);
    from_vector(dy, up);
    hk::linear_backward(hnet::ExecSpace(), dx.view, dP.view, dy, x, P, off_w, off_b);
    const std::string shape = " (Cin " + std::to_string(Cin) + ", Cout " + std::to_string(Cout) + ")";
    EXPECT_EQ(check("linear dx" + shape, hx, dx.delta(), objective), 0);
    EXPECT_EQ(check("linear dP" + shape, hP, dP.delta(), objective), 0);
  }
}

// No bias (off_b < 0), no input gradient, accumulating forward (y += x·W), one output channel.
TEST(LinearGradcheck, WithoutBiasOrInputGradientAccumulating) {
  for (const std::int64_t Cout : {std::int64_t(1), std::int64_t(16)}) {
    const std::int64_t B = 3, R = 5, Cin = 7, off_w = 2, p = off_w + Cin * Cout + 3;
    V3 x("x", B, R, Cin), y("y", B, R, Cout), dy("dy", B, R, Cout);
    V2 P("P", B, p);
    auto hx = random_vector(x.span(), 21), hP = random_vector(P.span(), 22, 0.5);
    const auto y0 = random_vector(y.span(), 23), up = random_vector(y.span(), 24);
    auto objective = [&]() {
      from_vector(x, hx), from_vector(P, hP), from_vector(y, y0);
      hk::linear_forward(hnet::ExecSpace(), y, x, P, off_w, -1, hk::Accumulate::yes);
      return dot(up, to_vector(y));
    };
    objective();
    GradBuffer<V2> dP(V2("dP", B, p), 25);
    from_vector(dy, up);
    hk::linear_backward(hnet::ExecSpace(), V3(), dP.view, dy, x, P, off_w, -1);
    EXPECT_EQ(check("linear (no bias) dP, Cout " + std::to_string(Cout), hP, dP.delta(), objective), 0);
  }
}

// A two-layer MLP with the swish fused into both layers: act = swish(x·W1 + b1) and its slope in
// one forward pass, and the second layer's backward writing dJ/dpre through the slope (assigned).
TEST(LinearGradcheck, SwishFusedIntoTheLayersOfAnMlp) {
  const std::int64_t B = 2, R = 7, Cin = 5, H = 19, Cout = 9, off_w1 = 1, off_b1 = off_w1 + Cin * H;
  const std::int64_t off_w2 = off_b1 + H + 2, off_b2 = off_w2 + H * Cout, p = off_b2 + Cout + 1;
  V3 x("x", B, R, Cin), slope("slope", B, R, H), act("act", B, R, H), y("y", B, R, Cout), dy("dy", B, R, Cout);
  V2 P("P", B, p);
  auto hx = random_vector(x.span(), 41, 1.5), hP = random_vector(P.span(), 42, 0.5);
  const auto up = random_vector(y.span(), 43);
  auto objective = [&]() {
    from_vector(x, hx), from_vector(P, hP);
    hk::linear_swish_forward(hnet::ExecSpace(), act, slope, x, P, off_w1, off_b1);
    hk::linear_forward(hnet::ExecSpace(), y, act, P, off_w2, off_b2, hk::Accumulate::no);
    return dot(up, to_vector(y));
  };
  objective();
  GradBuffer<V3> dx(V3("dx", B, R, Cin), 44);
  GradBuffer<V2> dP(V2("dP", B, p), 45);
  V3 dpre("dpre", B, R, H);
  Kokkos::deep_copy(dpre, std::numeric_limits<double>::quiet_NaN());  // assigned: nothing of it is read
  from_vector(dy, up);
  hk::linear_backward(hnet::ExecSpace(), dpre, dP.view, dy, act, P, off_w2, off_b2, hk::Accumulate::no, slope);
  hk::linear_backward(hnet::ExecSpace(), dx.view, dP.view, dpre, x, P, off_w1, off_b1);
  EXPECT_EQ(check("MLP with fused swish dx", hx, dx.delta(), objective), 0);
  EXPECT_EQ(check("MLP with fused swish dP", hP, dP.delta(), objective), 0);
}

TEST(SwishGradcheck, EveryElement) {
  const std::int64_t B = 2, R = 4, C = 6;
  V3 x("x", B, R, C), y("y", B, R, C), dy("dy", B, R, C);
  auto hx = random_vector(x.span(), 31, 3.0);
  const auto up = random_vector(y.span(), 32);
  auto objective = [&]() {
    from_vector(x, hx);
    hk::swish_forward(hnet::ExecSpace(), y, x);
    return dot(up, to_vector(y));
  };
  objective();
  GradBuffer<V3> dx(V3("dx", B, R, C), 33);
  from_vector(dy, up);
  hk::swish_backward(hnet::ExecSpace(), dx.view, dy, x);
  EXPECT_EQ(check("swish dx", hx, dx.delta(), objective), 0);
}

TEST(EdgeInputsGradcheck, EveryElement) {
  const auto graph = hnet::build_graph(2, 3);
  const std::int64_t B = 2, N = graph.nodes, E = graph.edges, d = 3;
  V3 e("e", B, E, d), h("h", B, N, d), g("g", B, E, 3 * d), dg("dg", B, E, 3 * d);
  auto he = random_vector(e.span(), 41), hh = random_vector(h.span(), 42);
  const auto up = random_vector(g.span(), 43);
  auto objective = [&]() {
    from_vector(e, he), from_vector(h, hh);
    hk::edge_inputs_forward(hnet::ExecSpace(), g, e, h, graph);
    return dot(up, to_vector(g));
  };
  objective();
  GradBuffer<V3> de(V3("de", B, E, d), 44), dh(V3("dh", B, N, d), 45);
  from_vector(dg, up);
  hk::edge_inputs_backward(hnet::ExecSpace(), de.view, dh.view, dg, graph);
  EXPECT_EQ(check("edge_inputs de", he, de.delta(), objective), 0);
  EXPECT_EQ(check("edge_inputs dh", hh, dh.delta(), objective), 0);
}

// A layer norm whose row is formed from two inputs inside the kernel (the edge gather, the
// concatenation): the gradients of both inputs and of the gain and bias, from the one-pass
// backward, against central differences of the one-pass forward. rows: the layer norm's rows;
// seeds seed … seed + 6.
template <class Forward, class Backward>
void check_two_input_layernorm(const std::string& name, V3 first, V3 second, std::int64_t rows, std::int64_t C,
                               unsigned seed, Forward forward, Backward backward) {
  const std::int64_t B = first.extent(0), off_gain = 1, off_bias = C + 2, p = 2 * C + 3;
  V3 y("y", B, rows, C), dy("dy", B, rows, C);
  V2 mean("mean", B, rows), rstd("rstd", B, rows), P("P", B, p);
  auto h1 = random_vector(first.span(), seed, 1.5, 0.3), h2 = random_vector(second.span(), seed + 1);
  auto hP = random_vector(P.span(), seed + 2, 1.0, 0.5);
  const auto up = random_vector(y.span(), seed + 3);
  auto objective = [&]() {
    from_vector(first, h1), from_vector(second, h2), from_vector(P, hP);
    forward(y, mean, rstd, first, second, P, off_gain, off_bias);
    return dot(up, to_vector(y));
  };
  objective();
  GradBuffer<V3> d1(V3("d1", B, first.extent(1), first.extent(2)), seed + 4),
      d2(V3("d2", B, second.extent(1), second.extent(2)), seed + 5);
  GradBuffer<V2> dP(V2("dP", B, p), seed + 6);
  from_vector(dy, up);
  backward(d1.view, d2.view, dP.view, dy, first, second, P, mean, rstd, off_gain, off_bias);
  EXPECT_EQ(check(name + " d1", h1, d1.delta(), objective), 0);
  EXPECT_EQ(check(name + " d2", h2, d2.delta(), objective), 0);
  EXPECT_EQ(check(name + " dP", hP, dP.delta(), objective), 0);
}

// The edge input and its layer norm fused (kernels/edge_layernorm.hpp): de, dh, dgain, dbias.
TEST(EdgeLayerNormGradcheck, EveryElement) {
  const auto graph = hnet::build_graph(2, 3);
  const std::int64_t B = 2, N = graph.nodes, E = graph.edges, d = 3;
  check_two_input_layernorm(
      "edge_layernorm", V3("e", B, E, d), V3("h", B, N, d), E, 3 * d, 61,
      [&graph](const V3& y, const V2& mean, const V2& rstd, const V3& e, const V3& h, const V2& P, std::int64_t og,
               std::int64_t ob) {
        hk::edge_inputs_layernorm_forward(hnet::ExecSpace(), y, mean, rstd, e, h, graph, P, og, ob);
      },
      [&graph](const V3& de, const V3& dh, const V2& dP, const V3& dy, const V3& e, const V3& h, const V2& P,
               const V2& mean, const V2& rstd, std::int64_t og, std::int64_t ob) {
        hk::edge_inputs_layernorm_backward(hnet::ExecSpace(), de, dh, dP, dy, e, h, graph, P, mean, rstd, og, ob);
      });
}

// The edge input, its layer norm and the edge MLP's first layer with its swish fused each way
// (kernels/edge_input_forward.hpp, edge_input_backward.hpp): de, dh and every parameter gradient
// (the layer's W and bias, the layer norm's gain and bias) against central differences of the
// fused forward, J = Σ up · swish(z), the backward given dz = up · swish′(z) from the forward's
// slope. Four networks per thread, where the fused kernels run.
TEST(EdgeInputLayerGradcheck, EveryElement) {
  const auto graph = hnet::build_graph(2, 3);
  const hnet::ExecSpace exec;
  const std::int64_t B = 4 * exec.concurrency(), N = graph.nodes, E = graph.edges, d = 3, C = 3 * d, Cout = 5;
  const std::int64_t off_gain = 1, off_bias = C + 2, off_w = 2 * C + 3, off_b = off_w + C * Cout + 1;
  const std::int64_t p = off_b + Cout + 2;
  ASSERT_TRUE(hk::edge_input_backward_fused(exec, B));
  V3 e("e", B, E, d), h("h", B, N, d), activated("activated", B, E, Cout), slope("slope", B, E, Cout);
  V3 dz("dz", B, E, Cout);
  V2 mean("mean", B, E), rstd("rstd", B, E), P("P", B, p);
  auto he = random_vector(e.span(), 71, 1.5, 0.3), hh = random_vector(h.span(), 72);
  auto hP = random_vector(P.span(), 73, 1.0, 0.5);
  const auto up = random_vector(activated.span(), 74);
  auto objective = [&]() {
    from_vector(e, he), from_vector(h, hh), from_vector(P, hP);
    hk::edge_input_forward(exec, activated, slope, mean, rstd, e, h, graph, P, off_gain, off_bias, off_w, off_b);
    return dot(up, to_vector(activated));
  };
  objective();
  std::vector<double> dz_host = to_vector(slope);
  for (std::size_t k = 0; k < dz_host.size(); ++k) dz_host[k] *= up[k];
  from_vector(dz, dz_host);
  GradBuffer<V3> de(V3("de", B, E, d), 75), dh(V3("dh", B, N, d), 76);
  GradBuffer<V2> dP(V2("dP", B, p), 77);
  hk::edge_input_backward(exec, de.view, dh.view, dP.view, dz, off_w, off_b, e, h, graph, P, mean, rstd, off_gain,
                          off_bias);
  EXPECT_EQ(check("edge_input_layer de", he, de.delta(), objective), 0);
  EXPECT_EQ(check("edge_input_layer dh", hh, dh.delta(), objective), 0);
  EXPECT_EQ(check("edge_input_layer dP", hP, dP.delta(), objective), 0);
}

// The latent channel's concatenation and its layer norm fused (kernels/concat_layernorm.hpp): da,
// db, dgain, dbias.
TEST(ConcatLayerNormGradcheck, EveryElement) {
  const std::int64_t B = 2, R = 3, Ca = 4, Cb = 5;
  check_two_input_layernorm(
      "concat_layernorm", V3("a", B, R, Ca), V3("b", B, R, Cb), R, Ca + Cb, 81,
      [](auto&&... args) { hk::concat_layernorm_forward(hnet::ExecSpace(), args...); },
      [](auto&&... args) { hk::concat_layernorm_backward(hnet::ExecSpace(), args...); });
}

TEST(ConcatGradcheck, EveryElement) {
  const std::int64_t B = 2, R = 3, Ca = 4, Cb = 5;
  V3 a("a", B, R, Ca), b("b", B, R, Cb), y("y", B, R, Ca + Cb), dy("dy", B, R, Ca + Cb);
  auto ha = random_vector(a.span(), 51), hb = random_vector(b.span(), 52);
  const auto up = random_vector(y.span(), 53);
  auto objective = [&]() {
    from_vector(a, ha), from_vector(b, hb);
    hk::concat_forward(hnet::ExecSpace(), y, a, b);
    return dot(up, to_vector(y));
  };
  objective();
  GradBuffer<V3> da(V3("da", B, R, Ca), 54), db(V3("db", B, R, Cb), 55);
  from_vector(dy, up);
  hk::concat_backward(hnet::ExecSpace(), da.view, db.view, dy);
  EXPECT_EQ(check("concat da", ha, da.delta(), objective), 0);
  EXPECT_EQ(check("concat db", hb, db.delta(), objective), 0);
  // Either half alone: the other's gradient is skipped, the split stays at Ca.
  GradBuffer<V3> db_only(V3("db", B, R, Cb), 55), da_only(V3("da", B, R, Ca), 54);  // same earlier content
  hk::concat_backward(hnet::ExecSpace(), V3(), db_only.view, dy);
  hk::concat_backward(hnet::ExecSpace(), da_only.view, V3(), dy);
  EXPECT_EQ(db_only.delta(), db.delta());
  EXPECT_EQ(da_only.delta(), da.delta());
}

TEST(CopyRowsGradcheck, EveryElement) {
  const std::int64_t B = 2, Rsrc = 7, R = 3, C = 4, row0 = 2;
  V3 src("src", B, Rsrc, C), dst("dst", B, R, C), ddst("ddst", B, R, C);
  auto hs = random_vector(src.span(), 61);
  const auto up = random_vector(dst.span(), 62);
  auto objective = [&]() {
    from_vector(src, hs);
    hk::copy_rows_forward(hnet::ExecSpace(), dst, src, row0);
    return dot(up, to_vector(dst));
  };
  objective();
  GradBuffer<V3> dsrc(V3("dsrc", B, Rsrc, C), 63);
  from_vector(ddst, up);
  hk::copy_rows_backward(hnet::ExecSpace(), dsrc.view, ddst, row0);
  EXPECT_EQ(check("copy_rows dsrc", hs, dsrc.delta(), objective), 0);
}

TEST(TypeEmbeddingGradcheck, EveryElement) {
  const auto graph = hnet::build_graph(2, 3);
  const std::int64_t B = 2, R = graph.nodes, C = 5, off = 3, types = 3, p = off + types * C + 2;
  V3 y("y", B, R, C), dy("dy", B, R, C);
  V2 P("P", B, p);
  auto hP = random_vector(P.span(), 71);
  const auto y0 = random_vector(y.span(), 72), up = random_vector(y.span(), 73);
  for (const bool accumulate : {false, true}) {
    auto objective = [&]() {
      from_vector(P, hP), from_vector(y, y0);
      hk::type_embedding_forward(hnet::ExecSpace(), y, graph.node_type, P, off, accumulate);
      return dot(up, to_vector(y));
    };
    objective();
    GradBuffer<V2> dP(V2("dP", B, p), 74);
    from_vector(dy, up);
    hk::type_embedding_backward(hnet::ExecSpace(), dP.view, dy, graph.node_type, off, types);
    EXPECT_EQ(check(std::string("type_embedding dP") + (accumulate ? " (+=)" : ""), hP, dP.delta(), objective), 0);
  }
}

}  // namespace
