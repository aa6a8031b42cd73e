// The whole model's gradient, end to end: objective → generated networks → read-out → decoder
// with latents → encoder → P(β) = P₀ + Uφ(β) → φ-MLP, against central finite differences in
// double on a tiny configuration, for every prior, σ parameterisation, read-out and objective.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "hnet/model.hpp"
#include "kernels/edge_input_backward.hpp"
#include "view_utils.hpp"

namespace {

struct Variant {
  hnet::Prior prior;
  hnet::SigmaParam sigma;
  hnet::Readout readout;
  hnet::Objective objective;
  bool posterior_identity;
  bool use_mean;
  hnet::IdentityDraw identity_draw = hnet::IdentityDraw::fixed;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  const Variant& v = info.param;
  std::string name = std::string(hnet::to_string(v.prior)) + "_" + hnet::to_string(v.sigma) + "_" +
                     hnet::to_string(v.readout) + "_" + hnet::to_string(v.objective);
  if (!v.posterior_identity) name += "_noidentity";
  if (v.use_mean) name += "_mean";
  if (v.identity_draw != hnet::IdentityDraw::fixed) name += std::string("_identity_") + hnet::to_string(v.identity_draw);
  return name;
}

hnet::ModelShape tiny_shape(const Variant& v) {
  hnet::ModelShape s;
  s.d = 8, s.heads = 2, s.blocks = 2, s.latent = 2, s.identity_dim = 4;
  s.phi_hidden = 6, s.phi_dim = 3;
  s.prior = v.prior, s.sigma = v.sigma, s.readout = v.readout, s.posterior_identity = v.posterior_identity;
  s.identity_draw = v.identity_draw;
  s.u_init = 0.2;  // a β-dependence large enough to show in the gradient of U and φ
  s.train_m = 4;
  s.target_mean = 2.0;
  s.log10_beta_min = -3.0, s.log10_beta_max = 1.0;
  return s;
}

// The objective's gradient for B networks at log₁₀β spread over [−2.5, −0.5]: P₀, U (fixed random
// samples) and every φ-MLP entry against central differences.
void expect_model_gradient(const Variant& v, std::int64_t B) {
  const hnet::HypernetLayout layout = hnet::build_layout(tiny_shape(v));
  const std::int64_t n = 3, m = 4, S = 5;
  hnet::Model<double> model(layout, B, n, m, S);

  std::vector<double> theta = hnet::initial_theta<double>(layout, 11);
  // Move away from the symmetric initial point so every path carries signal.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 0.05);
  for (double& t : theta) t += normal(rng);

  hnet::View1<double> theta_view("theta", theta.size()), dtheta("dtheta", theta.size());
  hnet::StepInputs in;
  for (std::int64_t b = 0; b < B; ++b)
    in.log10_beta.push_back(-2.5 + 2.0 * static_cast<double>(b) / static_cast<double>(B - 1));
  in.seed = 3, in.step = 7, in.objective = v.objective, in.use_mean = v.use_mean;
  in.kl_factor = 0.7;
  auto objective = [&]() {
    hnet::testing::from_vector(theta_view, theta);
    return model.forward(theta_view, in).objective;
  };
  const double J = objective();
  model.backward(theta_view, dtheta);
  const std::vector<double> analytic = hnet::testing::to_vector(dtheta);

  // Every φ-MLP entry, and a fixed random sample of P₀ and U.
  std::vector<std::int64_t> p0, u, phi;
  std::uniform_int_distribution<std::int64_t> pick_p0(layout.theta_p0, layout.theta_p0 + layout.p() - 1);
  std::uniform_int_distribution<std::int64_t> pick_u(layout.theta_u, layout.theta_u + layout.p() * layout.shape.phi_dim - 1);
  for (int k = 0; k < 120; ++k) p0.push_back(pick_p0(rng));
  for (int k = 0; k < 40; ++k) u.push_back(pick_u(rng));
  for (std::int64_t k = 0; k < layout.phi_size; ++k) phi.push_back(layout.theta_phi + k);
  hnet::testing::GradcheckTolerance tol;
  // Finite differences carry rounding noise of about ε·|J|/step; the sum objective makes |J| large.
  tol.step = 1e-5, tol.rtol = 1e-5, tol.atol = 1e-9 + 1e-10 * std::fabs(J);
  using hnet::testing::check_gradient_at;
  EXPECT_EQ(check_gradient_at("P0", theta.data(), analytic.data(), p0, objective, tol), 0);
  EXPECT_EQ(check_gradient_at("U", theta.data(), analytic.data(), u, objective, tol), 0);
  EXPECT_EQ(check_gradient_at("phi", theta.data(), analytic.data(), phi, objective, tol), 0);
}

class ModelGradcheck : public ::testing::TestWithParam<Variant> {};

TEST_P(ModelGradcheck, ObjectiveGradientMatchesFiniteDifferences) { expect_model_gradient(GetParam(), 2); }

// With four networks per host thread the model runs its by-network fusions (the edge-input layer
// each way, kernels/edge_input_{forward,backward}.hpp, besides the layer-norm fusions that two
// networks on two threads already reach): the same check end to end on that path.
TEST(ModelGradcheckByNetwork, ObjectiveGradientMatchesFiniteDifferences) {
  const std::int64_t B = 4 * hnet::ExecSpace().concurrency();
  ASSERT_TRUE(hnet::kernels::edge_input_backward_fused(hnet::ExecSpace(), B));
  expect_model_gradient(Variant{hnet::Prior::standard, hnet::SigmaParam::bounded, hnet::Readout::edge_bilinear,
                                hnet::Objective::log_sum, true, false},
                        B);
}

// The model does not clear the gradient buffers whose first writer assigns them (GradStart::assigned
// in model.cpp): a backward after another step's backward must give the bits of a fresh model's.
// Fails if a buffer is marked assigned while its first writer adds to it.
TEST_P(ModelGradcheck, BackwardDoesNotDependOnThePreviousStep) {
  const Variant v = GetParam();
  const hnet::HypernetLayout layout = hnet::build_layout(tiny_shape(v));
  const std::int64_t B = 2, n = 3, m = 4, S = 5;
  hnet::Model<double> reused(layout, B, n, m, S), fresh(layout, B, n, m, S);
  hnet::View1<double> theta("theta", layout.theta_size());
  hnet::testing::from_vector(theta, hnet::initial_theta<double>(layout, 12));
  hnet::StepInputs earlier, later;
  earlier.log10_beta = {0.5, -1.0}, earlier.seed = 4, earlier.step = 2;
  later.log10_beta = {-2.5, -0.5}, later.seed = 3, later.step = 7;
  for (hnet::StepInputs* in : {&earlier, &later}) in->objective = v.objective, in->use_mean = v.use_mean;
  auto gradient = [&](hnet::Model<double>& model, const hnet::StepInputs& in) {
    hnet::View1<double> dtheta("dtheta", layout.theta_size());
    model.forward(theta, in);
    model.backward(theta, dtheta);
    return hnet::testing::to_vector(dtheta);
  };
  gradient(reused, earlier);
  EXPECT_EQ(gradient(reused, later), gradient(fresh, later));
}

using hnet::Objective;
using hnet::Prior;
using hnet::Readout;
using hnet::SigmaParam;
INSTANTIATE_TEST_SUITE_P(
    Variants, ModelGradcheck,
    ::testing::Values(Variant{Prior::standard, SigmaParam::bounded, Readout::edge_bilinear, Objective::log_sum, true, false},
                      Variant{Prior::standard, SigmaParam::bounded, Readout::edge_bilinear, Objective::sum, true, false},
                      Variant{Prior::standard, SigmaParam::bounded, Readout::edge_bilinear, Objective::log_loss, true, false},
                      Variant{Prior::learned, SigmaParam::bounded, Readout::edge_bilinear, Objective::log_sum, true, false},
                      Variant{Prior::learned, SigmaParam::softplus, Readout::edge, Objective::sum, true, false},
                      Variant{Prior::learned, SigmaParam::bounded, Readout::edge, Objective::log_loss, false, false},
                      Variant{Prior::standard, SigmaParam::softplus, Readout::edge, Objective::log_sum, false, false},
                      Variant{Prior::standard, SigmaParam::bounded, Readout::edge_bilinear, Objective::log_sum, true, true},
                      Variant{Prior::standard, SigmaParam::bounded, Readout::edge_bilinear, Objective::log_sum, true, false,
                              hnet::IdentityDraw::per_network},
                      Variant{Prior::standard, SigmaParam::bounded, Readout::edge_bilinear, Objective::log_sum, true, false,
                              hnet::IdentityDraw::positional}),
    variant_name);

}  // namespace
