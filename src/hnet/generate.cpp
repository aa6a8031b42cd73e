#include "hnet/generate.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "hnet/evaluation.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/hypernet_layout.hpp"
#include "hnet/model.hpp"
#include "hnet/task_config.hpp"
#include "hnet/version.hpp"

namespace hnet {

namespace {

// Refused before anything is allocated, like train and sweep (README, "Reliability").
void require_generate_memory(const HypernetLayout& layout, std::int64_t n, std::int64_t m, std::int64_t samples,
                             MPI_Comm comm) {
  const auto bytes = [](std::initializer_list<std::int64_t> factors) {
    std::size_t total = 1;
    for (const std::int64_t f : factors)
      if (__builtin_mul_overflow(total, static_cast<std::size_t>(f), &total)) return SIZE_MAX;
    return total;
  };
  MemoryNeed need;
  need.device = {{"model workspace for one network of n = " + std::to_string(n) + ", m = " + std::to_string(m),
                  Model<float>::estimate_bytes(layout, 1, n, m, 1)},
                 {"theta", bytes({static_cast<std::int64_t>(sizeof(float)), layout.theta_size()})},
                 {"evaluation on " + std::to_string(samples) + " inputs",
                  bytes({static_cast<std::int64_t>(sizeof(float)), samples, n + m + 2})}};
  need.host = {{"initial theta", bytes({static_cast<std::int64_t>(sizeof(float)), layout.theta_size()})}};
  require_memory(need, "generate", "Lower --n, task.eval_size or model.d.", comm);
}

View1<float> to_device(const std::vector<float>& values) {
  View1<float> view("hnet::generate::theta", values.size());
  auto host = Kokkos::create_mirror_view(view);
  for (std::size_t k = 0; k < values.size(); ++k) host(k) = values[k];
  Kokkos::deep_copy(view, host);
  return view;
}

void write_generated_file(const Deck& deck, const GenerateRequest& request, const GeneratedNetwork& generated) {
  const HostNetwork& net = generated.network;
  const std::int64_t n = net.n, m = net.m;
  const auto parent = std::filesystem::path(generated.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  remove_stale_temporaries(generated.path, "generate: ", true);
  Hdf5Writer file(generated.path);
  file.write("W0", {n, m}, net.w0.data());
  file.write("b0", {m}, net.b0.data());
  file.write("W1", {m}, net.w1.data());
  file.write("b1", {1}, &net.b1);
  file.attribute("/", "hnet_version", version_string());
  file.attribute("/", "deck", to_toml(deck));
  file.attribute("/", "beta", request.beta);
  file.attribute("/", "generation_seed", static_cast<std::int64_t>(request.seed));
  file.attribute("/", "posterior_mean", static_cast<std::int64_t>(request.mean));
  file.attribute("/", "n", n);
  file.attribute("/", "m", m);
  file.attribute("/", "loss", generated.loss);
  file.attribute("/", "normalised_loss", generated.normalised_loss);
  file.attribute("/", "kl_nats", generated.kl_nats);
  file.attribute("/", "source", std::string("untrained (initial parameters from train.seed)"));
  file.commit();
}

}  // namespace

std::string default_generated_path(const Deck& deck, const GenerateRequest& request, std::int64_t n) {
  char name[160];
  std::snprintf(name, sizeof name, "beta%.6g_seed%llu_n%lld%s.h5", request.beta,
                static_cast<unsigned long long>(request.seed), static_cast<long long>(n), request.mean ? "_mean" : "");
  return (std::filesystem::path(deck.output.dir) / "generated" / name).string();
}

GeneratedNetwork generate_network(const Deck& deck, const GenerateRequest& request, MPI_Comm comm) {
  const std::int64_t n = request.n > 0 ? request.n : deck.target.n;
  const std::int64_t m = n * deck.target.hidden_ratio;
  const HypernetLayout layout = build_layout(model_shape(deck));
  require_generate_memory(layout, n, m, deck.task.eval_size, comm);

  const View1<float> theta = to_device(initial_theta<float>(layout, deck.train.seed));
  Model<float> model(layout, 1, n, m, 1, input_kind(deck.task.input), norm_kind(deck.task.target));
  StepInputs in;
  in.log10_beta = {std::log10(request.beta)};
  in.seed = request.seed;
  in.use_mean = request.mean;
  const StepResult forward = model.forward(theta, in, /*evaluate_task=*/false);

  GeneratedNetwork generated;
  generated.network = model.networks().front();
  const BatchEvaluation eval = evaluate({generated.network}, evaluation_config(deck.task));
  generated.loss = eval.mse[0];
  generated.normalised_loss = eval.normalised[0];
  generated.kl_nats = forward.kl.front();
  generated.path = request.output.empty() ? default_generated_path(deck, request, n) : request.output;

  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) write_generated_file(deck, request, generated);
  return generated;
}

}  // namespace hnet
