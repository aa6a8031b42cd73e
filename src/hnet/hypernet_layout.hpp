#pragma once
// Where every tensor of the hypernetwork (model.md §5) lives in the per-network parameter vector
// P, and where P₀, U and the φ-MLP (model.md §6) live in the trainable vector θ.
// Nothing here depends on n: the same parameters build networks of every size.
#include <cstdint>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/parameters.hpp"

namespace hnet {

struct ModelShape {
  std::int64_t d = 32, heads = 4, blocks = 2, latent = 4, identity_dim = 16;
  std::int64_t phi_hidden = 64, phi_dim = 16;
  Readout readout = Readout::edge_bilinear;
  Prior prior = Prior::standard;
  SigmaParam sigma = SigmaParam::bounded;
  double prior_scale = 0.2, rho_bias_init = 2.0, u_init = 1e-3, identity_scale = 1.0;
  double type_scale = 1.0;  // σ of the initial type vectors (model.md §7)
  bool posterior_identity = true;
  std::uint64_t identity_seed = 1;
  IdentityDraw identity_draw = IdentityDraw::fixed;  // model.md §4
  double identity_frequency = 4.0;                   // positional features: σ of the frequencies
  std::int64_t identity_shift = 8;                   // shifted features: largest input offset
  // Only initial values depend on the training size: γ_w1 = ln(1/√m), b1's bias = E[y].
  std::int64_t train_m = 48;
  double target_mean = 0.0;
  double log10_beta_min = -7.0, log10_beta_max = 1.0;
};

ModelShape model_shape(const Deck& deck);
// E[y] of the training distribution, the initial output bias (model.md §5.4).
double target_mean(InputDistribution input, TargetNorm target, std::int64_t n);

struct LinearOffsets {
  std::int64_t w = -1, b = -1, in = 0, out = 0;
};
struct LayerNormOffsets {
  std::int64_t gain = -1, bias = -1, dim = 0;
};

struct BlockOffsets {
  LayerNormOffsets ln_edge;           // 3d
  LinearOffsets edge_mlp1, edge_mlp2; // 3d → 2d → d
  LayerNormOffsets ln_q, ln_k;
  std::int64_t directions = -1;       // D_in, D_out: [2][d]
  LinearOffsets a_q, a_k, a_v, a_o;   // a_k, a_v biases apply once, to the direction rows
  LayerNormOffsets ln_node;
  LinearOffsets node_mlp1, node_mlp2; // d → 2d → d
};

struct LatentOffsets {
  LayerNormOffsets ln_post;   // over [state ; encoder state], 2d
  LinearOffsets post;         // 2d → 2k (μ, ρ)
  LinearOffsets identity;     // d_r (nodes) or 2 d_r (edges) → 2k, no bias; w = −1 when unused
  LayerNormOffsets ln_prior;  // learned prior only
  LinearOffsets prior;        // d → 2k
  LinearOffsets inject;       // k → d
};

struct ReadoutOffsets {
  LayerNormOffsets ln_w0, ln_w1, ln_b0, ln_b1, ln_bilinear;
  LinearOffsets w0, w1, b0, b1;  // d → 1
  LinearOffsets bil_a, bil_b;    // d → d, no bias; w = −1 for the plain edge read-out
  std::int64_t gamma = -1;       // γ_w0, γ_w1, γ_b0, γ_b1
};

struct HypernetLayout {
  ModelShape shape;
  ParameterTable table;  // P: per-network parameters
  std::int64_t enc_node_type = -1, enc_edge_type = -1, dec_node_type = -1, dec_edge_type = -1;
  LinearOffsets enc_identity;  // A_r: d_r → d
  std::vector<BlockOffsets> encoder, decoder;
  std::vector<LatentOffsets> node_latents, edge_latents;
  ReadoutOffsets readout;

  // θ = [P₀ (p) | U (p × d_φ) | φ-MLP]
  ParameterTable trainable;
  std::int64_t theta_p0 = 0, theta_u = 0, theta_phi = 0, phi_size = 0;
  std::int64_t phi_w1 = 0, phi_b1 = 0, phi_w2 = 0, phi_b2 = 0, phi_w3 = 0, phi_b3 = 0;  // relative to theta_phi

  std::int64_t p() const { return table.size(); }
  std::int64_t theta_size() const { return trainable.size(); }
};

HypernetLayout build_layout(const ModelShape& shape);

// θ at initialisation (model.md §7): P₀ by the P table's rules, U uniform in ±u_init, the φ-MLP
// like every Linear; all from the run seed.
template <class T>
std::vector<T> initial_theta(const HypernetLayout& layout, std::uint64_t seed);

}  // namespace hnet
