#include "hnet/sweep_records.hpp"

#include <stdexcept>

namespace hnet {

namespace {

constexpr RecordFieldInfo fields[record_field_count] = {
    {"job", true, "index of the training job (attribute jobs, one name per line)"},
    {"step", true, "training steps of the saved model"},
    {"log10_beta", false, "log10 beta the network was generated for"},
    {"generation_seed", true, "draw of the latent noise"},
    {"n", true, "input size"},
    {"m", true, "hidden units"},
    {"posterior_mean", true, "1: generated from the posterior mean, 0: a sample"},
    {"loss", false, "MSE on the fixed evaluation set"},
    {"normalised_loss", false, "loss / Var of the target"},
    {"kl_nats", false, "D_KL of the latents, nats"},
    {"kl_bits", false, "D_KL of the latents, bits"},
    {"o1", false, "order parameter O1: importance-weighted concentration on one input"},
    {"o2", false, "order parameter O2: fraction of inputs with valleys of both signs"},
    {"o3", false, "order parameter O3: sign balance of the valleys"},
    {"coverage", false, "fraction of inputs with a valley unit"},
    {"duplication", false, "valley units per covered input"},
    {"valley_units", true, "hidden units counted as valleys"},
    {"class", true, "algorithm class, a line of attribute class_names"},
    {"network_row", true, "row of the network in networks/n<N>/"},
};

}  // namespace

const RecordFieldInfo& record_field(RecordField field) {
  const int index = static_cast<int>(field);
  if (index < 0 || index >= record_field_count) throw std::out_of_range("no sweep record field " + std::to_string(index));
  return fields[index];
}

std::string record_field_list() {
  std::string out;
  for (const RecordFieldInfo& f : fields) out += (out.empty() ? "" : "\n") + std::string(f.name);
  return out;
}

}  // namespace hnet
