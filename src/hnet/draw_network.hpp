#pragma once
// `hnet draw`: one network of a sweep file, picked by β (nearest grid value), seed, size, step,
// posterior and job, drawn as DOT, SVG and PNG (model.md §10).
#include <cstdint>
#include <string>

#include "hnet/drawing.hpp"

namespace hnet {

struct DrawRequest {
  std::string sweep;          // sweep file written by hnet sweep
  double beta = 0.0;          // β, not log₁₀β; the nearest grid value is drawn
  std::int64_t seed = 0;      // generation seed
  std::int64_t n = 0;         // 0 = the training n
  std::int64_t step = -1;     // < 0 = the largest step evaluated at that n
  bool mean = false;          // the network generated from the posterior mean
  std::string job;            // training job by name; empty = the first
  std::string output;         // file prefix; empty = default_drawing_prefix()
  std::string layout = "neato";
  double omit_fraction = 0.02;
};

struct DrawnNetwork {
  SweepRecord record;
  std::string job_name, class_name;
  std::string dot_path, svg_path, png_path;
  std::string warnings;  // what Graphviz printed on success
};

// <directory of the sweep>/drawings/beta<B>_seed<S>_n<N>[_step<K>][_<job>][_mean], B the drawn
// grid β; step and job appear only when the request chose them.
std::string default_drawing_prefix(const DrawRequest& request, const SweepRecord& record, std::int64_t job,
                                   const std::string& job_name);

// Reads the sweep, selects the record, writes <prefix>.dot and renders the SVG and PNG. Throws
// std::runtime_error naming what is wrong (the DOT file stays when only rendering fails).
DrawnNetwork draw_sweep_network(const DrawRequest& request);

}  // namespace hnet
