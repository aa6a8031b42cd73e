#include "hnet/handbuilt.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "kernels/random.hpp"

namespace hnet {

const char* to_string(HandbuiltAlgorithm algorithm) {
  switch (algorithm) {
    case HandbuiltAlgorithm::double_sided: return "double-sided";
    case HandbuiltAlgorithm::pudding_minus: return "pudding-minus";
    case HandbuiltAlgorithm::pudding_plus: return "pudding-plus";
    case HandbuiltAlgorithm::convexity: return "convexity";
  }
  return "?";
}

std::vector<HandbuiltAlgorithm> all_handbuilt_algorithms() {
  return {HandbuiltAlgorithm::double_sided, HandbuiltAlgorithm::pudding_minus,
          HandbuiltAlgorithm::pudding_plus, HandbuiltAlgorithm::convexity};
}

std::optional<HandbuiltAlgorithm> parse_handbuilt_algorithm(const std::string& name) {
  for (HandbuiltAlgorithm a : all_handbuilt_algorithms())
    if (name == to_string(a)) return a;
  return std::nullopt;
}

HostNetwork build_handbuilt(const HandbuiltOptions& o, double convexity_scale) {
  const std::int64_t n = o.n, m = o.hidden_ratio * o.n;
  HostNetwork net(n, m);
  const float a = static_cast<float>(o.slope);
  switch (o.algorithm) {
    case HandbuiltAlgorithm::double_sided:
      // |x| = ReLU(x) + ReLU(−x): units 2i and 2i+1 look at input i from both sides.
      if (m < 2 * n) throw std::invalid_argument("double-sided needs m >= 2n hidden units");
      for (std::int64_t i = 0; i < n; ++i) {
        net.weight0(i, 2 * i) = a;
        net.weight0(i, 2 * i + 1) = -a;
        net.w1[2 * i] = net.w1[2 * i + 1] = 1.0f / a;
      }
      break;
    case HandbuiltAlgorithm::pudding_minus:
    case HandbuiltAlgorithm::pudding_plus: {
      // |x| = 2ReLU(±x) ∓ x; one pool unit in its almost-linear regime supplies ∓Σx.
      if (m < n + 1) throw std::invalid_argument("pudding needs m >= n + 1 hidden units");
      const float sign = o.algorithm == HandbuiltAlgorithm::pudding_minus ? 1.0f : -1.0f;
      const float c = static_cast<float>(o.pool_weight);
      for (std::int64_t i = 0; i < n; ++i) {
        net.weight0(i, i) = sign * a;
        net.w1[i] = 2.0f / a;
        net.weight0(i, n) = -sign * c;
      }
      net.b0[n] = static_cast<float>(o.pool_bias);
      net.w1[n] = 1.0f / c;
      break;
    }
    case HandbuiltAlgorithm::convexity: {
      // Randomly oriented swish valleys, every unit used, output weights of one sign.
      const auto key = kernels::make_key(o.seed, kernels::Purpose::handbuilt, n, m);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < m; ++j)
          net.weight0(i, j) = static_cast<float>(convexity_scale * kernels::normal(key, i * m + j));
      for (std::int64_t j = 0; j < m; ++j) net.w1[j] = 1.0f;
      break;
    }
  }
  return net;
}

namespace {

double mean_residual(const std::vector<float>& pred, const std::vector<float>& y) {
  double sum = 0.0;
  for (std::size_t s = 0; s < y.size(); ++s) sum += static_cast<double>(y[s]) - pred[s];
  return sum / static_cast<double>(y.size());
}

// Least squares y ≈ w·u + c; returns (w, c, mse).
struct LineFit {
  double w, c, mse;
};
LineFit fit_line(const std::vector<float>& u, const std::vector<float>& y) {
  const double count = static_cast<double>(y.size());
  double mu = 0, my = 0;
  for (std::size_t s = 0; s < y.size(); ++s) mu += u[s], my += y[s];
  mu /= count, my /= count;
  double cov = 0, var = 0;
  for (std::size_t s = 0; s < y.size(); ++s) cov += (u[s] - mu) * (y[s] - my), var += (u[s] - mu) * (u[s] - mu);
  const double w = var > 0 ? cov / var : 0.0, c = my - w * mu;
  double mse = 0;
  for (std::size_t s = 0; s < y.size(); ++s) {
    const double r = w * u[s] + c - y[s];
    mse += r * r;
  }
  return {w, c, mse / count};
}

}  // namespace

HandbuiltResult fit_handbuilt(const HandbuiltOptions& o, const EvaluationConfig& evaluation) {
  HandbuiltResult result;
  if (o.algorithm == HandbuiltAlgorithm::convexity) {
    // Scan the direction scale; at each, the common output weight and bias are a line fit.
    constexpr int scales = 48;
    std::vector<HostNetwork> candidates;
    std::vector<double> scale_of;
    for (int k = 0; k < scales; ++k) {
      const double s = 0.02 * std::pow(10.0, 3.0 * k / (scales - 1));  // 0.02 .. 20
      candidates.push_back(build_handbuilt(o, s));
      scale_of.push_back(s);
    }
    const BatchEvaluation sums = evaluate(candidates, evaluation);
    double best_mse = std::numeric_limits<double>::infinity();
    for (int k = 0; k < scales; ++k) {
      const LineFit fit = fit_line(sums.predictions[k], sums.targets);
      if (fit.mse < best_mse) {
        best_mse = fit.mse;
        result.network = candidates[k];
        for (float& w : result.network.w1) w = static_cast<float>(fit.w);
        result.network.b1 = static_cast<float>(fit.c);
        result.scale = scale_of[k];
      }
    }
  } else {
    result.network = build_handbuilt(o);
    result.scale = o.slope;
    const BatchEvaluation first = evaluate({result.network}, evaluation);
    result.network.b1 = static_cast<float>(mean_residual(first.predictions[0], first.targets));
  }
  const BatchEvaluation final_eval = evaluate({result.network}, evaluation);
  result.mse = final_eval.mse[0];
  result.normalised = final_eval.normalised[0];
  return result;
}

}  // namespace hnet
