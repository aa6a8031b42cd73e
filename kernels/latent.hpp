#pragma once
// The latent channel of model.md §5.3 on a set of rows (nodes or edges):
//   z = μ + σ ⊙ ε,  KL(N(μ, σ²) ‖ N(μ_pr, s_pr²)) = ln(s_pr/σ) + (σ² + (μ − μ_pr)²)/(2 s_pr²) − ½,
// with σ from ρ either bounded (σ_p·sigmoid(ρ)) or softplus(ρ) + 1e-4. The prior is N(0, s²) with
// s = σ_p (bounded) or 1 (softplus), or learned: (μ_pr, ρ_pr) with s_pr formed from ρ_pr like σ.
// ε is keyed by the global network and row index, so a node's noise does not depend on which rank
// or batch slot computes it. KL and its derivatives are evaluated in double through ln σ, which
// stays finite where σ itself underflows.
#include <cstdint>

#include "kernels/compat.hpp"
#include "kernels/random.hpp"
#include "kernels/views.hpp"

namespace hnet::kernels {

enum class SigmaKind : int { bounded = 0, softplus = 1 };

struct LatentOptions {
  SigmaKind sigma = SigmaKind::bounded;
  double prior_scale = 0.2;  // σ_p
  bool learned_prior = false;
  bool use_mean = false;  // z = μ (posterior mean), ε = 0
  std::uint64_t seed = 0, step = 0, network_offset = 0, level = 0, row_offset = 0;
};

namespace latent_detail {

// σ, ln σ and their derivatives with respect to ρ.
struct Spread {
  double sigma, log_sigma, dsigma, dlog_sigma;
};

// Both forms of σ need only e = exp(−|ρ|): sigmoid(ρ), 1 − sigmoid(ρ) and softplus(±ρ) all
// follow from it without overflow. ln(1 + e) loses relative accuracy only where e is tiny, and
// there it is added to ln σ_p or to σ's 1e-4 floor, which swamp the difference; log1p would cost
// several times more.
KOKKOS_INLINE_FUNCTION double exp_neg_abs(double rho) { return compat::exp(rho < 0 ? rho : -rho); }
// From ρ and e = exp_neg_abs(ρ); ln σ only `with_log` (the backward needs none: the bounded σ then
// takes no logarithm at all).
KOKKOS_INLINE_FUNCTION Spread spread(double rho, double e, SigmaKind kind, double prior_scale, double log_prior_scale,
                                     bool with_log = true) {
  const double rising = rho >= 0 ? 1 / (1 + e) : e / (1 + e), falling = rho >= 0 ? e / (1 + e) : 1 / (1 + e);
  if (kind == SigmaKind::bounded) {
    const double sigma = prior_scale * rising;  // ln σ = ln σ_p − softplus(−ρ)
    const double log_sigma = with_log ? log_prior_scale - (rho < 0 ? -rho : 0.0) - compat::log(1 + e) : 0.0;
    return {sigma, log_sigma, sigma * falling, falling};
  }
  const double sigma = (rho > 0 ? rho : 0.0) + compat::log(1 + e) + 1e-4;
  return {sigma, with_log ? compat::log(sigma) : 0.0, rising, rising / sigma};
}
KOKKOS_INLINE_FUNCTION Spread spread(double rho, SigmaKind kind, double prior_scale, double log_prior_scale) {
  return spread(rho, exp_neg_abs(rho), kind, prior_scale, log_prior_scale);
}

// The posterior's σ (from e = exp_neg_abs(ρ); ln σ only `with_log`) and the prior's (s_pr, ln s_pr,
// d/dρ_pr) for row element c.
template <class View>
KOKKOS_INLINE_FUNCTION void spreads(const View& post, const View& prior, std::int64_t b, std::int64_t r, std::int64_t k,
                                    std::int64_t c, const LatentOptions& o, double log_prior_scale, double e,
                                    bool with_log, Spread& q, Spread& p, double& mu_prior) {
  q = spread(post(b, r, k + c), e, o.sigma, o.prior_scale, log_prior_scale, with_log);
  if (o.learned_prior) {
    p = spread(prior(b, r, k + c), o.sigma, o.prior_scale, log_prior_scale);
    mu_prior = prior(b, r, c);
  } else {
    const bool bounded = o.sigma == SigmaKind::bounded;
    p = {bounded ? o.prior_scale : 1.0, bounded ? log_prior_scale : 0.0, 0.0, 0.0};
    mu_prior = 0;
  }
}

// ε of every (network, row, channel), keyed by the global network and row; zero with use_mean.
template <class E, class T>
void draw_noise(const E& exec, const V3<E, T>& eps, const LatentOptions o) {
  if (o.use_mean) {  // decided here: a select inside the draws' loop would keep it scalar
    Kokkos::deep_copy(exec, eps, T(0));
    return;
  }
  constexpr int L = vector_lanes<E>();
  const std::uint64_t first = o.row_offset * eps.extent(2);
  const std::int64_t count = eps.extent(1) * eps.extent(2), blocks = (count + L - 1) / L;
  const auto sample = KOKKOS_LAMBDA(const RngKey key, const std::uint64_t i) {
    return static_cast<T>(normal(key, first + i));
  };
  Kokkos::parallel_for(
      "hnet::latent_noise", Kokkos::RangePolicy<E>(exec, 0, eps.extent(0) * blocks),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / blocks;
        const RngKey key =
            make_key(o.seed, Purpose::latent_noise, o.step, o.network_offset + static_cast<std::uint64_t>(b), o.level);
        draw_block<L>(&eps(b, 0, 0), (flat % blocks) * L, count, key, sample);
      });
}
}  // namespace latent_detail

// z, sigma, eps: [B][R][k] (sigma and eps saved for backward); kl_rows: [B][R], Σ_c KL, written;
// post: [B][R][2k] = (μ, ρ); prior: [B][R][2k] = (μ_pr, ρ_pr), read only with learned_prior.
// saved_e [B][R][k], when present: exp(−|ρ|) of the posterior in double, for latent_backward,
// which then evaluates no exp (and for the bounded σ no log either).
template <class E, class T>
void latent_forward(const E& exec, const V3<E, T>& z, const V2<E, double>& kl_rows, const V3<E, T>& sigma,
                    const V3<E, T>& eps, const V3<E, T>& post, const V3<E, T>& prior, const LatentOptions options,
                    const V3<E, double>& saved_e = {}) {
  const std::int64_t batch = z.extent(0), rows = z.extent(1), k = z.extent(2);
  const double log_prior_scale = compat::log(options.prior_scale);
  const bool save_e = present(saved_e);
  latent_detail::draw_noise(exec, eps, options);
  Kokkos::parallel_for(
      "hnet::latent_forward", Kokkos::RangePolicy<E>(exec, 0, batch * rows), KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / rows, r = flat % rows;
        const T* const eps_row = &eps(b, r, 0);
        double kl = 0;
        for (std::int64_t c = 0; c < k; ++c) {
          const double mu = post(b, r, c);
          latent_detail::Spread q, p;
          double mu_pr;
          const double e = latent_detail::exp_neg_abs(post(b, r, k + c));
          if (save_e) saved_e(b, r, c) = e;
          latent_detail::spreads(post, prior, b, r, k, c, options, log_prior_scale, e, true, q, p, mu_pr);
          sigma(b, r, c) = static_cast<T>(q.sigma);
          z(b, r, c) = post(b, r, c) + static_cast<T>(q.sigma) * eps_row[c];
          const double gap = mu - mu_pr;
          kl += p.log_sigma - q.log_sigma + (q.sigma * q.sigma + gap * gap) / (2 * p.sigma * p.sigma) - 0.5;
        }
        kl_rows(b, r) = kl;
      });
}

// dkl: [B], dJ/d(total KL of network b), the upstream of every row's KL. dpost += ...; dprior +=
// ... with learned_prior. σ is recomputed in double from ρ (its derivatives need sigmoid(ρ) anyway)
// and saved_e, latent_forward's exp(−|ρ|) when it kept one (the same bits either way), so the saved
// sigma is not read; it stays in the signature so callers keep one set of caches.
template <class E, class T>
void latent_backward(const E& exec, const V3<E, T>& dpost, const V3<E, T>& dprior, const V3<E, T>& dz,
                     const V1<E, double>& dkl, const V3<E, T>& post, const V3<E, T>& prior, const V3<E, T>& sigma,
                     const V3<E, T>& eps, const LatentOptions options, const V3<E, double>& saved_e = {}) {
  (void)sigma;
  const std::int64_t batch = dz.extent(0), rows = dz.extent(1), k = dz.extent(2);
  const double log_prior_scale = compat::log(options.prior_scale);
  const bool want_post = present(dpost), want_prior = options.learned_prior && present(dprior);
  const bool with_saved_e = present(saved_e);
  Kokkos::parallel_for(
      "hnet::latent_backward", Kokkos::RangePolicy<E>(exec, 0, batch * rows * k),
      KOKKOS_LAMBDA(const std::int64_t flat) {
        const std::int64_t b = flat / (rows * k), r = (flat / k) % rows, c = flat % k;
        const double mu = post(b, r, c), up = dkl(b), g = dz(b, r, c);
        latent_detail::Spread q, p;
        double mu_pr;
        // ln σ is not needed here: the bounded σ takes no logarithm at all.
        const double e = with_saved_e ? saved_e(b, r, c) : latent_detail::exp_neg_abs(post(b, r, k + c));
        latent_detail::spreads(post, prior, b, r, k, c, options, log_prior_scale, e, false, q, p, mu_pr);
        const double inv_var = 1.0 / (p.sigma * p.sigma), gap = mu - mu_pr;
        if (want_post) {
          dpost(b, r, c) += static_cast<T>(g + up * gap * inv_var);
          dpost(b, r, k + c) += static_cast<T>(g * static_cast<double>(eps(b, r, c)) * q.dsigma +
                                               up * (q.sigma * q.dsigma * inv_var - q.dlog_sigma));
        }
        if (want_prior) {
          dprior(b, r, c) += static_cast<T>(-up * gap * inv_var);
          dprior(b, r, k + c) += static_cast<T>(up * p.dlog_sigma * (1.0 - (q.sigma * q.sigma + gap * gap) * inv_var));
        }
      });
}

// kl: [B] += Σ_r kl_rows[b][r], in row order.
template <class E>
void kl_sum_forward(const E& exec, const V1<E, double>& kl, const V2<E, double>& kl_rows) {
  const std::int64_t batch = kl_rows.extent(0), rows = kl_rows.extent(1);
  Kokkos::parallel_for(
      "hnet::kl_sum_forward", Kokkos::RangePolicy<E>(exec, 0, batch), KOKKOS_LAMBDA(const std::int64_t b) {
        double sum = 0;
        for (std::int64_t r = 0; r < rows; ++r) sum += kl_rows(b, r);
        kl(b) += sum;
      });
}

}  // namespace hnet::kernels
