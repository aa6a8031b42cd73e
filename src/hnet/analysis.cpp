#include "hnet/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace hnet {

const char* to_string(AlgorithmClass algorithm_class) {
  switch (algorithm_class) {
    case AlgorithmClass::trivial: return "trivial";
    case AlgorithmClass::convexity: return "convexity";
    case AlgorithmClass::double_sided: return "double-sided";
    case AlgorithmClass::pudding_minus: return "pudding-minus";
    case AlgorithmClass::pudding_plus: return "pudding-plus";
  }
  return "?";
}

std::vector<AlgorithmClass> all_algorithm_classes() {
  return {AlgorithmClass::trivial, AlgorithmClass::convexity, AlgorithmClass::double_sided,
          AlgorithmClass::pudding_minus, AlgorithmClass::pudding_plus};
}

ClassifierThresholds thresholds_from(const SweepConfig& sweep) {
  ClassifierThresholds t;
  t.trivial_loss = sweep.trivial_loss;
  t.convexity_o1 = sweep.convexity_o1;
  t.double_sided_o2 = sweep.double_sided_o2;
  t.pudding_o3 = sweep.pudding_o3;
  t.valley_kappa = sweep.valley_kappa;
  t.valley_importance = sweep.valley_importance;
  return t;
}

namespace {

void check_network(const HostNetwork& net) {
  const auto n = net.n, m = net.m;
  if (n < 0 || m < 0 || net.w0.size() != static_cast<std::size_t>(n * m) ||
      net.w1.size() != static_cast<std::size_t>(m))
    throw std::invalid_argument("order_parameters: weight arrays do not match n = " + std::to_string(n) +
                                ", m = " + std::to_string(m));
  for (std::size_t k = 0; k < net.w0.size(); ++k)
    if (!std::isfinite(net.w0[k]))
      throw std::invalid_argument("order_parameters: W0[" + std::to_string(k / m) + "," +
                                  std::to_string(k % m) + "] is not finite");
  for (std::int64_t j = 0; j < m; ++j)
    if (!std::isfinite(net.w1[j]))
      throw std::invalid_argument("order_parameters: W1[" + std::to_string(j) + "] is not finite");
}

struct Unit {
  double c = 0, kappa = 0;
  std::int64_t input = 0;  // i*
  int sign = 0;            // s_j
};

}  // namespace

OrderParameters order_parameters(const HostNetwork& net, const ClassifierThresholds& t) {
  check_network(net);
  const std::int64_t n = net.n, m = net.m;
  OrderParameters op;
  if (n == 0) return op;

  std::vector<Unit> units(m);
  double max_c = 0;
  for (std::int64_t j = 0; j < m; ++j) {
    Unit& u = units[j];
    double sum_sq = 0, best = -1;
    for (std::int64_t i = 0; i < n; ++i) {
      const double w = net.weight0(i, j);
      sum_sq += w * w;
      if (std::abs(w) > best) best = std::abs(w), u.input = i;  // strict: ties keep the smallest i
    }
    const double w_star = net.weight0(u.input, j);
    u.sign = w_star > 0 ? 1 : (w_star < 0 ? -1 : 0);
    u.kappa = sum_sq > 0 ? w_star * w_star / sum_sq : 1.0 / static_cast<double>(n);
    u.c = std::abs(static_cast<double>(net.w1[j])) * std::sqrt(sum_sq);
    max_c = std::max(max_c, u.c);
  }

  double sum_c = 0, sum_c_kappa = 0;
  for (const Unit& u : units) sum_c += u.c, sum_c_kappa += u.c * u.kappa;
  if (sum_c > 0) op.o1 = sum_c_kappa / sum_c;

  // Per input: has a positive valley unit, has a negative one.
  std::vector<char> positive(n, 0), negative(n, 0);
  double valley_c = 0, valley_c_sign = 0;
  for (const Unit& u : units) {
    // c_j > 0 is implied by the importance test for valley_importance ≥ 0 (the deck's range); kept so a
    // unit that contributes nothing, possibly with s_j = 0, never counts whatever the thresholds.
    if (!(u.kappa > t.valley_kappa && u.c > t.valley_importance * max_c && u.c > 0)) continue;
    ++op.valley_units;
    valley_c += u.c;
    valley_c_sign += u.c * u.sign;
    (u.sign > 0 ? positive : negative)[u.input] = 1;
  }
  std::int64_t covered = 0, both = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    covered += (positive[i] || negative[i]) ? 1 : 0;
    both += (positive[i] && negative[i]) ? 1 : 0;
  }
  const double inputs = static_cast<double>(n);
  op.o2 = static_cast<double>(both) / inputs;
  op.coverage = static_cast<double>(covered) / inputs;
  if (op.valley_units > 0) {
    op.o3 = valley_c_sign / valley_c;
    op.duplication = static_cast<double>(op.valley_units) / static_cast<double>(covered);
  }
  return op;
}

AlgorithmClass classify(double normalised_loss, const OrderParameters& op, const ClassifierThresholds& t) {
  // A NaN loss (a diverged network) would fail every comparison and fall through to a structured
  // class; isfinite also keeps an ordered comparison from raising FE_INVALID on it.
  if (!std::isfinite(normalised_loss) || normalised_loss > t.trivial_loss) return AlgorithmClass::trivial;
  if (op.o1 < t.convexity_o1) return AlgorithmClass::convexity;
  if (op.o2 > t.double_sided_o2) return AlgorithmClass::double_sided;
  if (op.o3 > t.pudding_o3) return AlgorithmClass::pudding_minus;
  return AlgorithmClass::pudding_plus;
}

}  // namespace hnet
