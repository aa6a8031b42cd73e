#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "hnet/analysis.hpp"
#include "hnet/handbuilt.hpp"
#include "kernels/random.hpp"

namespace {

using A = hnet::HandbuiltAlgorithm;
using C = hnet::AlgorithmClass;

hnet::AlgorithmClass expected_class(A algorithm) {
  switch (algorithm) {
    case A::double_sided: return C::double_sided;
    case A::pudding_minus: return C::pudding_minus;
    case A::pudding_plus: return C::pudding_plus;
    case A::convexity: return C::convexity;
  }
  return C::trivial;
}

// 4096 samples: the classes are far from the loss threshold, and the full 16 384 would only slow
// the convexity scale scan down.
hnet::EvaluationConfig small_evaluation() {
  hnet::EvaluationConfig e;
  e.samples = 4096;
  return e;
}

// Fitting is the slow part, and several tests classify the same networks.
const hnet::HandbuiltResult& fitted(A algorithm, std::int64_t n) {
  static std::map<std::pair<int, std::int64_t>, hnet::HandbuiltResult> cache;
  const auto key = std::make_pair(static_cast<int>(algorithm), n);
  auto it = cache.find(key);
  if (it == cache.end()) {
    hnet::HandbuiltOptions o;
    o.algorithm = algorithm;
    o.n = n;
    o.hidden_ratio = 3;
    o.slope = 16;
    o.pool_bias = 20;
    it = cache.emplace(key, hnet::fit_handbuilt(o, small_evaluation())).first;
  }
  return it->second;
}

// N(0, (rel·max|W0|)²) on every W0 entry and N(0, (rel·max|W1|)²) on every W1 entry, from the
// counter-based generator so the draws are the same on every platform.
hnet::HostNetwork perturbed(hnet::HostNetwork net, double rel, std::uint64_t draw, A algorithm) {
  double max0 = 0, max1 = 0;
  for (float w : net.w0) max0 = std::max(max0, static_cast<double>(std::abs(w)));
  for (float w : net.w1) max1 = std::max(max1, static_cast<double>(std::abs(w)));
  const auto key = hnet::kernels::make_key(draw, hnet::kernels::Purpose::test_data, static_cast<std::uint64_t>(net.n),
                                           static_cast<std::uint64_t>(algorithm), 0xA7A1);
  std::uint64_t e = 0;
  for (float& w : net.w0) w += static_cast<float>(rel * max0 * hnet::kernels::normal(key, e++));
  for (float& w : net.w1) w += static_cast<float>(rel * max1 * hnet::kernels::normal(key, e++));
  return net;
}

// The normalised loss after refitting the output bias, as fit_handbuilt does for the clean network.
double refitted_loss(hnet::HostNetwork& net) {
  const auto first = hnet::evaluate({net}, small_evaluation());
  double residual = 0;
  for (std::size_t s = 0; s < first.targets.size(); ++s) residual += first.targets[s] - first.predictions[0][s];
  net.b1 += static_cast<float>(residual / static_cast<double>(first.targets.size()));
  return hnet::evaluate({net}, small_evaluation()).normalised[0];
}

std::string describe(const hnet::OrderParameters& op) {
  char text[200];
  std::snprintf(text, sizeof text, "O1 %.4f O2 %.4f O3 %+.4f coverage %.4f duplication %.4f valley units %lld", op.o1,
                op.o2, op.o3, op.coverage, op.duplication, static_cast<long long>(op.valley_units));
  return text;
}

hnet::HostNetwork two_by_three(std::initializer_list<float> w0_rows, std::initializer_list<float> w1) {
  hnet::HostNetwork net(2, 3);
  net.w0.assign(w0_rows);
  net.w1.assign(w1);
  return net;
}

constexpr double tight = 1e-12;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Order parameters

// W0 = [[3, −1, 0.5], [4, 2, −0.5]], W1 = [1, −2, 10]. Units 0 and 1 peak on input 1 with s = +1
// (κ = 16/25 and 4/5); unit 2 is a tie (κ = 1/2, not above 0.5) so it is not a valley unit even
// though it has the largest importance.
TEST(OrderParameters, HandComputedSameSignPair) {
  const auto net = two_by_three({3, -1, 0.5f, 4, 2, -0.5f}, {1, -2, 10});
  const double c0 = 1 * 5, c1 = 2 * std::sqrt(5.0), c2 = 10 * std::sqrt(0.5);
  const double k0 = 16.0 / 25, k1 = 4.0 / 5, k2 = 0.5;
  const auto op = hnet::order_parameters(net, {});
  EXPECT_NEAR(op.o1, (c0 * k0 + c1 * k1 + c2 * k2) / (c0 + c1 + c2), tight);
  EXPECT_EQ(op.valley_units, 2);
  EXPECT_NEAR(op.o2, 0.0, tight);
  EXPECT_NEAR(op.o3, 1.0, tight);
  EXPECT_NEAR(op.coverage, 0.5, tight);
  EXPECT_NEAR(op.duplication, 2.0, tight);
}

// W0 = [[2, −3, 0], [1, 0.5, 0]], W1 = [1.5, 0.25, 7]: a positive and a negative valley unit on
// input 0, and an all-zero column whose large output weight must not matter (c = 0).
TEST(OrderParameters, HandComputedOppositeSignsAndZeroColumn) {
  const auto net = two_by_three({2, -3, 0, 1, 0.5f, 0}, {1.5f, 0.25f, 7});
  const double c0 = 1.5 * std::sqrt(5.0), c1 = 0.25 * std::sqrt(9.25);
  const double k0 = 4.0 / 5, k1 = 9.0 / 9.25;
  ASSERT_GT(c1, 0.05 * c0);
  const auto op = hnet::order_parameters(net, {});
  EXPECT_NEAR(op.o1, (c0 * k0 + c1 * k1) / (c0 + c1), tight);
  EXPECT_EQ(op.valley_units, 2);
  EXPECT_NEAR(op.o2, 0.5, tight);
  EXPECT_NEAR(op.o3, (c0 - c1) / (c0 + c1), tight);
  EXPECT_NEAR(op.coverage, 0.5, tight);
  EXPECT_NEAR(op.duplication, 2.0, tight);
}

// Both valley conditions are strict and read from the thresholds passed in.
// W0 = [[4, 0, 3], [3, 4, 0]], W1 = [5, 0.3125, 1]: c = 25, 1.25, 3 and κ = 16/25, 1, 1, so unit 1
// sits exactly at 0.05·max c and unit 0 exactly at κ = 0.64.
TEST(OrderParameters, ValleyThresholdsAreStrictAndFromTheArgument) {
  const auto net = two_by_three({4, 0, 3, 3, 4, 0}, {5, 0.3125f, 1});
  const double c0 = 25, c1 = 1.25, c2 = 3, k0 = 16.0 / 25;
  const double o1 = (c0 * k0 + c1 + c2) / (c0 + c1 + c2);
  hnet::ClassifierThresholds t;
  auto op = hnet::order_parameters(net, t);
  EXPECT_EQ(op.valley_units, 2) << "c_j equal to valley_importance·max c is not enough";
  EXPECT_NEAR(op.coverage, 0.5, tight);
  EXPECT_NEAR(op.duplication, 2.0, tight);
  EXPECT_NEAR(op.o1, o1, tight);
  t.valley_importance = 0.049;
  op = hnet::order_parameters(net, t);
  EXPECT_EQ(op.valley_units, 3);
  EXPECT_NEAR(op.coverage, 1.0, tight);
  EXPECT_NEAR(op.duplication, 1.5, tight);
  t.valley_kappa = k0;
  op = hnet::order_parameters(net, t);
  EXPECT_EQ(op.valley_units, 2) << "κ_j equal to valley_kappa is not enough";
  EXPECT_NEAR(op.coverage, 1.0, tight);
  EXPECT_NEAR(op.duplication, 1.0, tight);
  EXPECT_NEAR(op.o3, 1.0, tight);
  EXPECT_NEAR(op.o1, o1, tight) << "O1 does not depend on the valley thresholds";
}

// |W0[0,j]| = |W0[1,j]|: the unit belongs to input 0 and takes that weight's sign.
TEST(OrderParameters, ArgmaxTiesTakeTheSmallestInput) {
  hnet::ClassifierThresholds t;
  t.valley_kappa = 0.4;  // so that κ = 1/2 counts
  auto op = hnet::order_parameters(two_by_three({-0.5f, 0, 0, 0.5f, 0, 0}, {1, 0, 0}), t);
  EXPECT_EQ(op.valley_units, 1);
  EXPECT_NEAR(op.o3, -1.0, tight) << "tie must pick input 0 (weight −0.5), not input 1 (+0.5)";
  EXPECT_NEAR(op.o1, 0.5, tight);
  // Ties to input 0 give it one unit of each sign; ties to input 1 would give two positive units.
  op = hnet::order_parameters(two_by_three({-0.5f, 0.5f, 0, 0.5f, 0.5f, 0}, {1, 1, 0}), t);
  EXPECT_EQ(op.valley_units, 2);
  EXPECT_NEAR(op.coverage, 0.5, tight);
  EXPECT_NEAR(op.o2, 0.5, tight);
  EXPECT_NEAR(op.o3, 0.0, tight);
}

TEST(OrderParameters, DegenerateNetworksGiveZerosNotNaN) {
  const auto expect_all_zero = [](const hnet::OrderParameters& op, const char* what) {
    EXPECT_EQ(op.o1, 0.0) << what;
    EXPECT_EQ(op.o2, 0.0) << what;
    EXPECT_EQ(op.o3, 0.0) << what;
    EXPECT_EQ(op.coverage, 0.0) << what;
    EXPECT_EQ(op.duplication, 0.0) << what;
    EXPECT_EQ(op.valley_units, 0) << what;
  };
  expect_all_zero(hnet::order_parameters(hnet::HostNetwork(16, 48), {}), "all-zero network");
  // Σc = 0 through the output weights alone: every κ is 1, yet nothing is used.
  hnet::HandbuiltOptions o;
  auto silent = hnet::build_handbuilt(o);
  for (float& w : silent.w1) w = 0;
  expect_all_zero(hnet::order_parameters(silent, {}), "zero output weights");
  expect_all_zero(hnet::order_parameters(hnet::HostNetwork(0, 0), {}), "n = 0");
  expect_all_zero(hnet::order_parameters(hnet::HostNetwork(3, 0), {}), "m = 0");
  // Negative importance would admit c = 0 units with s = 0; they must still not count.
  hnet::ClassifierThresholds t;
  t.valley_importance = -1;
  expect_all_zero(hnet::order_parameters(hnet::HostNetwork(2, 3), t), "negative importance threshold");
  // Dense, no valley unit: O3 and duplication stay 0 while O1 is defined.
  const auto dense = hnet::order_parameters(two_by_three({1, 1, -1, 1, -1, 1}, {1, 1, 1}), {});
  EXPECT_NEAR(dense.o1, 0.5, tight);
  EXPECT_EQ(dense.valley_units, 0);
  EXPECT_EQ(dense.o3, 0.0);
  EXPECT_EQ(dense.duplication, 0.0);
}

TEST(OrderParameters, RejectsNonFiniteOrMisshapenNetworks) {
  auto net = two_by_three({1, 0, 0, 0, 1, 0}, {1, 1, 1});
  net.weight0(1, 2) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(hnet::order_parameters(net, {}), std::invalid_argument);
  net.weight0(1, 2) = 0;
  net.w1[2] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(hnet::order_parameters(net, {}), std::invalid_argument);
  net.w1[2] = 0;
  EXPECT_NO_THROW(hnet::order_parameters(net, {}));
  net.w1.pop_back();
  EXPECT_THROW(hnet::order_parameters(net, {}), std::invalid_argument);
}

// The expected values of model.md §9.1 for the hand-built networks; they follow from θ alone.
TEST(OrderParameters, HandbuiltDoubleSided) {
  for (std::int64_t n : {4, 8, 16, 32}) {
    const auto op = hnet::order_parameters(fitted(A::double_sided, n).network, {});
    std::printf("[ values   ] double-sided  n=%2lld %s\n", static_cast<long long>(n), describe(op).c_str());
    EXPECT_NEAR(op.o1, 1.0, tight) << "n " << n;
    EXPECT_NEAR(op.o2, 1.0, tight) << "n " << n;
    EXPECT_NEAR(op.o3, 0.0, tight) << "n " << n;
    EXPECT_NEAR(op.coverage, 1.0, tight) << "n " << n;
    EXPECT_NEAR(op.duplication, 2.0, tight) << "n " << n;
    EXPECT_EQ(op.valley_units, 2 * n);
  }
}

TEST(OrderParameters, HandbuiltPudding) {
  for (A algorithm : {A::pudding_minus, A::pudding_plus}) {
    const double sign = algorithm == A::pudding_minus ? 1 : -1;
    for (std::int64_t n : {4, 8, 16, 32}) {
      const auto op = hnet::order_parameters(fitted(algorithm, n).network, {});
      std::printf("[ values   ] %-13s n=%2lld %s\n", hnet::to_string(algorithm), static_cast<long long>(n),
                  describe(op).c_str());
      // n valley units with c = (2/a)·a = 2, κ = 1; one pool unit with c = √n·1, κ = 1/n.
      const double nn = static_cast<double>(n), pool = std::sqrt(nn);
      EXPECT_NEAR(op.o1, (2 * nn + pool / nn) / (2 * nn + pool), tight) << "n " << n;
      EXPECT_NEAR(op.o2, 0.0, tight) << "n " << n;
      EXPECT_NEAR(op.o3, sign, tight) << "n " << n;
      EXPECT_NEAR(op.coverage, 1.0, tight) << "n " << n;
      EXPECT_NEAR(op.duplication, 1.0, tight) << "n " << n;
      EXPECT_EQ(op.valley_units, n);
    }
  }
}

// model.md gives O1 ≈ 0.1–0.25 for convexity; for Gaussian directions O1 ≈ E[‖w‖κ]/E‖w‖ falls
// with n (about 0.28 at n = 16, 0.18 at n = 32), so only the threshold side is a hard check.
TEST(OrderParameters, HandbuiltConvexity) {
  for (std::int64_t n : {16, 32}) {
    const auto op = hnet::order_parameters(fitted(A::convexity, n).network, {});
    std::printf("[ values   ] convexity     n=%2lld %s\n", static_cast<long long>(n), describe(op).c_str());
    EXPECT_GT(op.o1, 0.1) << "n " << n;
    EXPECT_LT(op.o1, 0.35) << "n " << n;
    EXPECT_LE(op.coverage, 0.25) << "random directions rarely concentrate on one input";
  }
}

// ---------------------------------------------------------------------------------------------
// Classifier

TEST(Classifier, HandbuiltNetworksAreNamedCorrectly) {
  for (A algorithm : hnet::all_handbuilt_algorithms())
    for (std::int64_t n : {4, 8, 16, 32}) {
      // See ConvexityBelowSixteenInputsIsNotNamedConvexity.
      if (algorithm == A::convexity && n < 16) continue;
      const auto& r = fitted(algorithm, n);
      const auto op = hnet::order_parameters(r.network, {});
      EXPECT_EQ(hnet::classify(r.normalised, op, {}), expected_class(algorithm))
          << hnet::to_string(algorithm) << " n " << n << " loss " << r.normalised << " " << describe(op);
    }
}

// Not a wish, a measured property of §9.1 as written: the concentration of a random Gaussian
// direction grows as n falls (E κ ≈ 0.62 at n = 4, 0.43 at n = 8, 0.34 at n = 12), so with the
// fixed O1 < 0.35 rule a convexity network at small n is named a structured algorithm. The
// threshold is the deck's (sweep.convexity_o1), not this module's to tune; this test fails when
// the rule or the hand-built network changes so that the limitation no longer holds.
TEST(Classifier, ConvexityBelowSixteenInputsIsNotNamedConvexity) {
  for (std::int64_t n : {4, 8}) {
    const auto& r = fitted(A::convexity, n);
    const auto op = hnet::order_parameters(r.network, {});
    const C named = hnet::classify(r.normalised, op, {});
    std::printf("[ values   ] convexity     n=%2lld loss %.4f %s -> %s\n", static_cast<long long>(n), r.normalised,
                describe(op).c_str(), hnet::to_string(named));
    EXPECT_LT(r.normalised, 0.9);
    EXPECT_GT(op.o1, 0.35) << "n " << n;
    EXPECT_NE(named, C::convexity) << "n " << n;
  }
}

// Noise small enough that the networks still compute ‖x‖₁ (output bias refitted, loss measured
// again): at 5 % of max|W0| the pudding pool unit's weights (1 against 16) are swamped and its
// loss exceeds the trivial threshold, which is the loss doing its job, not the order parameters.
TEST(Classifier, NoisyHandbuiltNetworksKeepTheirClass) {
  constexpr double rel = 0.01;
  for (A algorithm : hnet::all_handbuilt_algorithms())
    for (std::int64_t n : {4, 8, 16, 32}) {
      if (algorithm == A::convexity && n < 16) continue;
      for (std::uint64_t draw : {1, 2, 3}) {
        auto net = perturbed(fitted(algorithm, n).network, rel, draw, algorithm);
        const double loss = refitted_loss(net);
        const auto op = hnet::order_parameters(net, {});
        EXPECT_EQ(hnet::classify(loss, op, {}), expected_class(algorithm))
            << hnet::to_string(algorithm) << " n " << n << " draw " << draw << " loss " << loss << " " << describe(op);
      }
    }
}

// The order parameters alone at the larger noise N(0, (0.05·max|W0|)²) (W1 in proportion),
// classified with the clean network's loss: the structure is still read correctly.
TEST(Classifier, OrderParametersSurviveFivePercentNoise) {
  constexpr double rel = 0.05;
  for (A algorithm : hnet::all_handbuilt_algorithms())
    for (std::int64_t n : {4, 8, 16, 32}) {
      if (algorithm == A::convexity && n < 16) continue;
      for (std::uint64_t draw : {1, 2, 3}) {
        const auto& clean = fitted(algorithm, n);
        const auto op = hnet::order_parameters(perturbed(clean.network, rel, draw, algorithm), {});
        EXPECT_EQ(hnet::classify(clean.normalised, op, {}), expected_class(algorithm))
            << hnet::to_string(algorithm) << " n " << n << " draw " << draw << " " << describe(op);
      }
    }
}

TEST(Classifier, ConstantPredictorIsTrivial) {
  hnet::HostNetwork zero(16, 48);
  const double loss = refitted_loss(zero);
  EXPECT_NE(zero.b1, 0.0f);
  EXPECT_NEAR(loss, 1.0, 0.05);
  EXPECT_EQ(hnet::classify(loss, hnet::order_parameters(zero, {}), {}), C::trivial);
}

TEST(Classifier, HighLossIsTrivialWhateverTheWeights) {
  for (A algorithm : hnet::all_handbuilt_algorithms()) {
    const auto op = hnet::order_parameters(fitted(algorithm, 16).network, {});
    EXPECT_EQ(hnet::classify(0.95, op, {}), C::trivial) << hnet::to_string(algorithm);
    EXPECT_EQ(hnet::classify(std::numeric_limits<double>::quiet_NaN(), op, {}), C::trivial)
        << "a diverged network has no algorithm";
    EXPECT_EQ(hnet::classify(std::numeric_limits<double>::infinity(), op, {}), C::trivial);
  }
}

// §9.1 in order, each comparison strict, each boundary landing on the side the text says.
TEST(Classifier, RuleAppliesInOrderWithStrictComparisons) {
  const hnet::ClassifierThresholds t{};
  const auto op = [](double o1, double o2, double o3) {
    hnet::OrderParameters p;
    p.o1 = o1, p.o2 = o2, p.o3 = o3;
    return p;
  };
  EXPECT_EQ(hnet::classify(0.9, op(1, 1, 0), t), C::double_sided) << "loss = 0.9 is not above 0.9";
  EXPECT_EQ(hnet::classify(0.9000001, op(1, 1, 0), t), C::trivial);
  EXPECT_EQ(hnet::classify(0.1, op(0.3, 1, 1), t), C::convexity) << "O1 is tested before O2";
  EXPECT_EQ(hnet::classify(0.1, op(0.35, 0, 1), t), C::pudding_minus) << "O1 = 0.35 is not below 0.35";
  EXPECT_EQ(hnet::classify(0.1, op(0.9, 0.5, 1), t), C::pudding_minus) << "O2 = 0.5 is not above 0.5";
  EXPECT_EQ(hnet::classify(0.1, op(0.9, 0.51, -1), t), C::double_sided) << "O2 is tested before O3";
  EXPECT_EQ(hnet::classify(0.1, op(0.9, 0, 0), t), C::pudding_plus) << "O3 = 0 is not above 0";
  EXPECT_EQ(hnet::classify(0.1, op(0.9, 0, 1e-9), t), C::pudding_minus);
  EXPECT_EQ(hnet::classify(0.1, op(0.9, 0, -0.2), t), C::pudding_plus);
}

TEST(Classifier, ThresholdsComeFromTheArgument) {
  hnet::OrderParameters p;
  p.o1 = 0.6, p.o2 = 0.7, p.o3 = 0.2;
  hnet::ClassifierThresholds t;
  EXPECT_EQ(hnet::classify(0.5, p, t), C::double_sided);
  t.double_sided_o2 = 0.8;
  EXPECT_EQ(hnet::classify(0.5, p, t), C::pudding_minus);
  t.pudding_o3 = 0.3;
  EXPECT_EQ(hnet::classify(0.5, p, t), C::pudding_plus);
  t.convexity_o1 = 0.7;
  EXPECT_EQ(hnet::classify(0.5, p, t), C::convexity);
  t.trivial_loss = 0.4;
  EXPECT_EQ(hnet::classify(0.5, p, t), C::trivial);
}

TEST(Classifier, ThresholdsFromSweepCopyEveryField) {
  const hnet::SweepConfig reference{};
  const hnet::ClassifierThresholds defaults{}, from_reference = hnet::thresholds_from(reference);
  // The two default lists must not drift apart.
  EXPECT_EQ(from_reference.trivial_loss, defaults.trivial_loss);
  EXPECT_EQ(from_reference.convexity_o1, defaults.convexity_o1);
  EXPECT_EQ(from_reference.double_sided_o2, defaults.double_sided_o2);
  EXPECT_EQ(from_reference.pudding_o3, defaults.pudding_o3);
  EXPECT_EQ(from_reference.valley_kappa, defaults.valley_kappa);
  EXPECT_EQ(from_reference.valley_importance, defaults.valley_importance);

  // Each deck key, changed on its own, arrives in its own field and nowhere else.
  const hnet::Deck deck = hnet::parse_deck("", "<test>",
                                           {"sweep.trivial_loss=0.81", "sweep.convexity_o1=0.22",
                                            "sweep.double_sided_o2=0.63", "sweep.pudding_o3=-0.14",
                                            "sweep.valley_kappa=0.45", "sweep.valley_importance=0.076"});
  const auto t = hnet::thresholds_from(deck.sweep);
  EXPECT_EQ(t.trivial_loss, 0.81);
  EXPECT_EQ(t.convexity_o1, 0.22);
  EXPECT_EQ(t.double_sided_o2, 0.63);
  EXPECT_EQ(t.pudding_o3, -0.14);
  EXPECT_EQ(t.valley_kappa, 0.45);
  EXPECT_EQ(t.valley_importance, 0.076);
}

TEST(Classifier, NamesAreDistinctAndShareTheHandbuiltSpelling) {
  std::set<std::string> names;
  for (C c : hnet::all_algorithm_classes()) names.insert(hnet::to_string(c));
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(names.count("?"), 0u);
  EXPECT_STREQ(hnet::to_string(C::trivial), "trivial");
  for (A a : hnet::all_handbuilt_algorithms()) EXPECT_STREQ(hnet::to_string(expected_class(a)), hnet::to_string(a));
  EXPECT_EQ(static_cast<int>(C::pudding_plus), 4);
}
