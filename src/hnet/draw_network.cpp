#include "hnet/draw_network.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "hnet/file_io.hpp"

namespace hnet {

namespace {

RecordQuery record_query(const DrawRequest& request, const SweepContents& sweep) {
  RecordQuery query;
  query.log10_beta = std::log10(request.beta);
  query.generation_seed = request.seed;
  query.n = request.n;
  query.step = request.step;
  query.posterior_mean = request.mean;
  if (!request.job.empty()) {
    query.job = -1;
    for (std::size_t k = 0; k < sweep.jobs.size(); ++k)
      if (sweep.jobs[k] == request.job) query.job = static_cast<std::int64_t>(k);
    if (query.job < 0) throw std::runtime_error(request.sweep + ": no job named " + request.job + "\n" + sweep.describe());
  }
  return query;
}

// The picture's title lines and the DOT comment that says where it came from.
DrawingOptions drawing_options(const DrawRequest& request, const DrawnNetwork& drawn) {
  const SweepRecord& r = drawn.record;
  DrawingOptions drawing;
  drawing.layout = request.layout;
  drawing.omit_fraction = request.omit_fraction;
  char line[300];
  std::snprintf(line, sizeof line, "β = %.3g (log₁₀β = %.2f)   class: %s", std::pow(10.0, r.log10_beta), r.log10_beta,
                drawn.class_name.c_str());
  drawing.label.emplace_back(line);
  std::snprintf(line, sizeof line, "normalised loss %.4g   D_KL %.4g bits   n = %lld, m = %lld", r.normalised_loss,
                r.kl_bits, static_cast<long long>(r.n), static_cast<long long>(r.m));
  drawing.label.emplace_back(line);
  std::snprintf(line, sizeof line, "step %lld, generation seed %lld, posterior %s, job %s", static_cast<long long>(r.step),
                static_cast<long long>(r.generation_seed), r.posterior_mean ? "mean" : "sample", drawn.job_name.c_str());
  drawing.label.emplace_back(line);
  std::snprintf(line, sizeof line,
                "Source: %s, record %lld (networks/n%lld row %lld); O1 %.3f, O2 %.3f, O3 %.3f, coverage %.3f.",
                request.sweep.c_str(), static_cast<long long>(r.index), static_cast<long long>(r.n),
                static_cast<long long>(r.network_row), r.o1, r.o2, r.o3, r.coverage);
  drawing.comments.emplace_back(line);
  return drawing;
}

}  // namespace

std::string default_drawing_prefix(const DrawRequest& request, const SweepRecord& record, std::int64_t job,
                                   const std::string& job_name) {
  // The drawn grid β, not the requested one: the name says what the picture shows.
  char beta[40];
  std::snprintf(beta, sizeof beta, "%.3g", std::pow(10.0, record.log10_beta));
  // Step and job appear only when chosen, so the usual name stays short.
  std::string name = "beta" + std::string(beta) + "_seed" + std::to_string(request.seed) + "_n" + std::to_string(record.n);
  if (request.step >= 0) name += "_step" + std::to_string(request.step);
  if (job > 0) name += "_" + job_name;
  if (request.mean) name += "_mean";
  return (std::filesystem::path(request.sweep).parent_path() / "drawings" / name).string();
}

DrawnNetwork draw_sweep_network(const DrawRequest& request) {
  const SweepContents sweep = read_sweep(request.sweep);
  const RecordQuery query = record_query(request, sweep);
  DrawnNetwork drawn;
  drawn.record = select_record(sweep, query);
  const SweepRecord& r = drawn.record;
  const HostNetwork net = read_sweep_network(sweep, r);
  drawn.job_name = r.job < static_cast<std::int64_t>(sweep.jobs.size()) ? sweep.jobs[r.job] : std::to_string(r.job);
  drawn.class_name = sweep.class_name(r.algorithm_class);

  const std::string prefix =
      request.output.empty() ? default_drawing_prefix(request, r, query.job, drawn.job_name) : request.output;
  const auto parent = std::filesystem::path(prefix).parent_path();
  if (!parent.empty()) require_writable_directory(parent.string(), "the directory of the drawings");
  drawn.dot_path = prefix + ".dot", drawn.svg_path = prefix + ".svg", drawn.png_path = prefix + ".png";
  write_file_atomically(drawn.dot_path, network_dot(net, drawing_options(request, drawn)));
  try {
    drawn.warnings = render_graphviz(request.layout, drawn.dot_path, {{"svg", drawn.svg_path}, {"png", drawn.png_path}});
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + "\n(the DOT file " + drawn.dot_path + " was written)");
  }
  return drawn;
}

}  // namespace hnet
