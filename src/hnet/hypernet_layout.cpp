#include "hnet/hypernet_layout.hpp"

#include <cmath>
#include <string>

namespace hnet {

double target_mean(InputDistribution input, TargetNorm target, std::int64_t n) {
  const double pi = 3.14159265358979323846, dn = static_cast<double>(n);
  const bool normal = input == InputDistribution::normal;
  switch (target) {
    case TargetNorm::l1: return normal ? dn * std::sqrt(2.0 / pi) : dn / 2.0;
    case TargetNorm::l2sq: return normal ? dn : dn / 3.0;
    case TargetNorm::linf: {
      // E[max |x_i|] = ∫ (1 − F(t)ⁿ) dt with F the CDF of |x|; a short quadrature suffices.
      double sum = 0.0;
      const double hi = normal ? 10.0 : 1.0, step = hi / 20000.0;
      for (int k = 0; k < 20000; ++k) {
        const double t = (k + 0.5) * step;
        const double cdf = normal ? std::erf(t / std::sqrt(2.0)) : t;
        sum += (1.0 - std::pow(cdf, dn)) * step;
      }
      return sum;
    }
  }
  return 0.0;
}

ModelShape model_shape(const Deck& deck) {
  ModelShape s;
  const ModelConfig& m = deck.model;
  s.d = m.d, s.heads = m.heads, s.blocks = m.blocks, s.latent = m.latent, s.identity_dim = m.identity_dim;
  s.phi_hidden = m.phi_hidden, s.phi_dim = m.phi_dim;
  s.readout = m.readout, s.prior = m.prior, s.sigma = m.sigma;
  s.prior_scale = m.prior_scale, s.rho_bias_init = m.rho_bias_init, s.u_init = m.u_init;
  s.identity_scale = m.identity_scale, s.type_scale = m.type_scale;
  s.posterior_identity = m.posterior_identity, s.identity_seed = m.identity_seed;
  s.identity_frequency = m.identity_frequency, s.identity_shift = m.identity_shift;
  s.identity_draw = m.identity_draw;
  s.train_m = deck.target.hidden();
  s.target_mean = target_mean(deck.task.input, deck.task.target, deck.target.n);
  s.log10_beta_min = deck.train.log10_beta_min, s.log10_beta_max = deck.train.log10_beta_max;
  return s;
}

namespace {

struct Builder {
  ParameterTable& table;

  LayerNormOffsets layernorm(const std::string& name, std::int64_t dim) {
    LayerNormOffsets o;
    o.dim = dim;
    o.gain = table.add(name + ".gain", {dim}, InitRule::ones);
    o.bias = table.add(name + ".bias", {dim}, InitRule::zeros);
    return o;
  }
  LinearOffsets linear(const std::string& name, std::int64_t in, std::int64_t out, bool bias = true) {
    LinearOffsets o;
    o.in = in, o.out = out;
    o.w = table.add(name + ".weight", {in, out}, InitRule::uniform_fan_in, 0.0, 0.0, in);
    if (bias) o.b = table.add(name + ".bias", {out}, InitRule::zeros);
    return o;
  }
  BlockOffsets block(const std::string& name, std::int64_t d) {
    BlockOffsets b;
    b.ln_edge = layernorm(name + ".edge.ln", 3 * d);
    b.edge_mlp1 = linear(name + ".edge.mlp1", 3 * d, 2 * d);
    b.edge_mlp2 = linear(name + ".edge.mlp2", 2 * d, d);
    b.ln_q = layernorm(name + ".attn.ln_q", d);
    b.ln_k = layernorm(name + ".attn.ln_k", d);
    b.directions = table.add(name + ".attn.directions", {2, d}, InitRule::normal, 1.0);
    b.a_q = linear(name + ".attn.q", d, d);
    b.a_k = linear(name + ".attn.k", d, d);
    b.a_v = linear(name + ".attn.v", d, d);
    b.a_o = linear(name + ".attn.o", d, d);
    b.ln_node = layernorm(name + ".node.ln", d);
    b.node_mlp1 = linear(name + ".node.mlp1", d, 2 * d);
    b.node_mlp2 = linear(name + ".node.mlp2", 2 * d, d);
    return b;
  }
  LatentOffsets latent(const std::string& name, const ModelShape& s, std::int64_t identity_in) {
    LatentOffsets l;
    const std::int64_t d = s.d, k = s.latent;
    // ρ starts at rho_bias_init for the bounded σ (σ ≈ 0.88 σ_p), at 0 for softplus.
    const double rho0 = s.sigma == SigmaParam::bounded ? s.rho_bias_init : 0.0;
    l.ln_post = layernorm(name + ".post.ln", 2 * d);
    l.post = linear(name + ".post", 2 * d, 2 * k, false);
    l.post.b = table.add(name + ".post.bias", {2 * k}, InitRule::split_constant, 0.0, rho0);
    if (s.posterior_identity) l.identity = linear(name + ".identity", identity_in, 2 * k, false);
    if (s.prior == Prior::learned) {
      l.ln_prior = layernorm(name + ".prior.ln", d);
      l.prior = linear(name + ".prior", d, 2 * k, false);
      l.prior.b = table.add(name + ".prior.bias", {2 * k}, InitRule::split_constant, 0.0, rho0);
    }
    l.inject = linear(name + ".inject", k, d);
    return l;
  }
};

}  // namespace

HypernetLayout build_layout(const ModelShape& shape) {
  HypernetLayout L;
  L.shape = shape;
  Builder b{L.table};
  const std::int64_t d = shape.d, dr = shape.identity_dim;

  L.enc_node_type = L.table.add("encoder.node_type", {3, d}, InitRule::normal, shape.type_scale);
  L.enc_edge_type = L.table.add("encoder.edge_type", {2, d}, InitRule::normal, shape.type_scale);
  L.enc_identity = b.linear("encoder.identity", dr, d, false);
  for (std::int64_t l = 0; l < shape.blocks; ++l) L.encoder.push_back(b.block("encoder.block" + std::to_string(l), d));

  L.dec_node_type = L.table.add("decoder.node_type", {3, d}, InitRule::normal, shape.type_scale);
  L.dec_edge_type = L.table.add("decoder.edge_type", {2, d}, InitRule::normal, shape.type_scale);
  for (std::int64_t l = 0; l < shape.blocks; ++l) {
    const std::string level = std::to_string(l);
    L.decoder.push_back(b.block("decoder.block" + level, d));
    L.node_latents.push_back(b.latent("decoder.latent" + level + ".nodes", shape, dr));
    L.edge_latents.push_back(b.latent("decoder.latent" + level + ".edges", shape, 2 * dr));
  }

  ReadoutOffsets& r = L.readout;
  r.ln_w0 = b.layernorm("readout.w0.ln", d);
  r.w0 = b.linear("readout.w0", d, 1);
  r.ln_w1 = b.layernorm("readout.w1.ln", d);
  r.w1 = b.linear("readout.w1", d, 1);
  r.ln_b0 = b.layernorm("readout.b0.ln", d);
  r.b0 = b.linear("readout.b0", d, 1);
  r.ln_b1 = b.layernorm("readout.b1.ln", d);
  r.b1 = b.linear("readout.b1", d, 1, false);
  r.b1.b = L.table.add("readout.b1.bias", {1}, InitRule::constant, shape.target_mean);
  if (shape.readout == Readout::edge_bilinear) {
    r.ln_bilinear = b.layernorm("readout.bilinear.ln", d);
    r.bil_a = b.linear("readout.bilinear.a", d, d, false);
    r.bil_b = b.linear("readout.bilinear.b", d, d, false);
  }
  // γ_w0, γ_w1, γ_b0, γ_b1 (model.md §5.4): exp(γ) scales let weights reach slopes near 16.
  r.gamma = L.table.add("readout.gamma_w0", {1}, InitRule::zeros);
  L.table.add("readout.gamma_w1", {1}, InitRule::constant, std::log(1.0 / std::sqrt(static_cast<double>(shape.train_m))));
  L.table.add("readout.gamma_b0", {1}, InitRule::zeros);
  L.table.add("readout.gamma_b1", {1}, InitRule::zeros);

  const std::int64_t p = L.table.size(), dphi = shape.phi_dim, h = shape.phi_hidden;
  L.theta_p0 = L.trainable.add("P0", {p}, InitRule::zeros);  // filled from the P table
  L.theta_u = L.trainable.add("U", {p, dphi}, InitRule::uniform_symmetric, shape.u_init);
  Builder phi{L.trainable};
  const LinearOffsets l1 = phi.linear("phi.mlp1", 1, h), l2 = phi.linear("phi.mlp2", h, h),
                      l3 = phi.linear("phi.mlp3", h, dphi);
  L.theta_phi = l1.w;
  L.phi_size = L.trainable.size() - L.theta_phi;
  L.phi_w1 = l1.w - L.theta_phi, L.phi_b1 = l1.b - L.theta_phi;
  L.phi_w2 = l2.w - L.theta_phi, L.phi_b2 = l2.b - L.theta_phi;
  L.phi_w3 = l3.w - L.theta_phi, L.phi_b3 = l3.b - L.theta_phi;
  return L;
}

template <class T>
std::vector<T> initial_theta(const HypernetLayout& layout, std::uint64_t seed) {
  std::vector<T> theta(layout.theta_size());
  layout.trainable.initialise(theta.data(), seed, /*stream=*/1);
  layout.table.initialise(theta.data() + layout.theta_p0, seed, /*stream=*/0);
  return theta;
}

template std::vector<float> initial_theta<float>(const HypernetLayout&, std::uint64_t);
template std::vector<double> initial_theta<double>(const HypernetLayout&, std::uint64_t);

}  // namespace hnet
