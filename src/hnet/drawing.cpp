#include "hnet/drawing.hpp"

#include <hdf5.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "hnet/deck.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/sweep_records.hpp"

extern char** environ;

namespace hnet {

namespace fs = std::filesystem;

namespace {

std::string printf_string(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

std::string dot_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Opacity as the two hex digits Graphviz reads after #RRGGBB.
std::string with_alpha(const char* rgb, double alpha) {
  const int a = static_cast<int>(std::lround(255.0 * std::clamp(alpha, 0.0, 1.0)));
  return printf_string("%s%02x", rgb, a);
}

constexpr const char* kInput = "#2ca02c";
constexpr const char* kHidden = "#8c8c8c";
constexpr const char* kOutput = "#d62ad6";
constexpr const char* kPositive = "#d62728";
constexpr const char* kNegative = "#1f4fd6";

std::string join(const std::vector<std::int64_t>& values, const char* separator) {
  std::string out;
  for (std::size_t k = 0; k < values.size(); ++k) out += (k ? separator : "") + std::to_string(values[k]);
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Reads elements [row*count, (row+1)*count) of a dataset whose first dimension is the row, so a
// drawing never loads every network of a large sweep.
std::vector<float> read_row(const std::string& path, const std::string& name, std::int64_t row,
                            std::int64_t expected_count) {
  const Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw std::runtime_error("cannot open " + path + " (missing, truncated or not an HDF5 file)");
  const Hdf5Handle set(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.valid()) throw std::runtime_error(path + " has no dataset " + name + " (not a complete sweep file)");
  const Hdf5Handle space(H5Dget_space(set), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  hsize_t per_row = 1;
  for (int k = 1; k < rank; ++k) per_row *= dims[k];
  std::string problem;
  if (rank < 1 || row < 0 || static_cast<hsize_t>(row) >= dims[0])
    problem = name + " has no row " + std::to_string(row);
  else if (static_cast<std::int64_t>(per_row) != expected_count)
    problem = name + " rows hold " + std::to_string(per_row) + " values, expected " + std::to_string(expected_count);
  std::vector<float> values(per_row);
  herr_t status = -1;
  if (problem.empty()) {
    std::vector<hsize_t> start(rank, 0), count(dims);
    start[0] = static_cast<hsize_t>(row), count[0] = 1;
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    const hsize_t flat = per_row;
    const Hdf5Handle memory(H5Screate_simple(1, &flat, nullptr), H5Sclose);
    status = H5Dread(set, H5T_NATIVE_FLOAT, memory, space, H5P_DEFAULT, values.data());
    if (status < 0) problem = "cannot read row " + std::to_string(row) + " of " + name;
  }
  if (!problem.empty()) throw std::runtime_error(path + ": " + problem);
  return values;
}

bool has_link(hid_t file, const std::string& name) {
  std::size_t at = 0;
  while (true) {
    const std::size_t slash = name.find('/', at);
    const std::string prefix = name.substr(0, slash);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    at = slash + 1;
  }
}

}  // namespace

namespace {

void check_drawable(const HostNetwork& net, const DrawingOptions& options) {
  const std::int64_t n = net.n, m = net.m;
  if (n < 1 || m < 1 || static_cast<std::int64_t>(net.w0.size()) != n * m ||
      static_cast<std::int64_t>(net.b0.size()) != m || static_cast<std::int64_t>(net.w1.size()) != m)
    throw std::invalid_argument("network_dot: weight arrays do not match n = " + std::to_string(n) +
                                ", m = " + std::to_string(m));
  if (options.layout != "neato" && options.layout != "fdp")
    throw std::invalid_argument("network_dot: layout must be neato or fdp, not " + options.layout);
}

// Each layer is scaled by its own largest weight: the two layers trade scale freely
// (swish(a z)/a → ReLU(z)), so one common scale would hide whichever layer is small.
struct LayerScales {
  double max0 = 0, max1 = 0;
  std::int64_t non_finite = 0;
};

LayerScales layer_scales(const HostNetwork& net) {
  LayerScales s;
  auto scan = [&s](const std::vector<float>& layer, double& largest) {
    for (float w : layer) {
      if (std::isfinite(w)) largest = std::max(largest, std::fabs(double(w)));
      else ++s.non_finite;
    }
  };
  scan(net.w0, s.max0), scan(net.w1, s.max1);
  return s;
}

// c_j = |W1[j]|·‖W0[:,j]‖ (model.md §9.1); units far below the largest are drawn faint.
struct UnitImportance {
  std::vector<double> c;
  double max_c = 0;
  std::vector<bool> faint;
  std::vector<std::int64_t> faint_units;
};

UnitImportance unit_importance(const HostNetwork& net, const DrawingOptions& options) {
  const std::int64_t n = net.n, m = net.m;
  UnitImportance u;
  u.c.assign(m, 0.0);
  for (std::int64_t j = 0; j < m; ++j) {
    double norm2 = 0;
    for (std::int64_t i = 0; i < n; ++i) norm2 += double(net.weight0(i, j)) * net.weight0(i, j);
    const double c = std::fabs(double(net.w1[j])) * std::sqrt(norm2);
    u.c[j] = std::isfinite(c) ? c : 0.0;
    u.max_c = std::max(u.max_c, u.c[j]);
  }
  u.faint.resize(m);
  for (std::int64_t j = 0; j < m; ++j) {
    u.faint[j] = !(u.c[j] >= options.faint_importance * u.max_c) || u.max_c == 0;
    if (u.faint[j]) u.faint_units.push_back(j);
  }
  return u;
}

struct DrawnEdge {
  std::string from, to, tooltip;
  double w, relative;
  bool faint;
};

struct KeptEdges {
  std::vector<DrawnEdge> edges;
  std::int64_t omitted0 = 0, omitted1 = 0;
};

KeptEdges kept_edges(const HostNetwork& net, const LayerScales& scales, const UnitImportance& units,
                     const DrawingOptions& options) {
  const std::int64_t n = net.n, m = net.m;
  KeptEdges k;
  auto keep = [&](double w, double layer_max) {
    return std::isfinite(w) && w != 0.0 && layer_max > 0 && std::fabs(w) >= options.omit_fraction * layer_max;
  };
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      const double w = net.weight0(i, j);
      if (!keep(w, scales.max0)) {
        ++k.omitted0;
        continue;
      }
      k.edges.push_back({"x" + std::to_string(i), "h" + std::to_string(j),
                         printf_string("W0[%lld,%lld] = %.4g", static_cast<long long>(i), static_cast<long long>(j), w), w,
                         std::fabs(w) / scales.max0, units.faint[j]});
    }
  for (std::int64_t j = 0; j < m; ++j) {
    const double w = net.w1[j];
    if (!keep(w, scales.max1)) {
      ++k.omitted1;
      continue;
    }
    k.edges.push_back({"h" + std::to_string(j), "y", printf_string("W1[%lld] = %.4g", static_cast<long long>(j), w), w,
                       std::fabs(w) / scales.max1, units.faint[j]});
  }
  return k;
}

// The "//" lines before the graph: what is drawn, how to read it, and what was left out.
std::string dot_comments(const HostNetwork& net, const DrawingOptions& options, const LayerScales& scales,
                         const UnitImportance& units, const KeptEdges& kept) {
  const std::int64_t n = net.n, m = net.m;
  std::string dot;
  dot += printf_string("// hnet network drawing (model.md §10): n = %lld inputs, m = %lld hidden units, 1 output.\n",
                       static_cast<long long>(n), static_cast<long long>(m));
  for (const std::string& c : options.comments)
    for (const std::string& line : split_lines(c)) dot += "// " + line + "\n";
  dot += "// Nodes: x<i> inputs (green), h<j> hidden units (gray), y output (magenta).\n";
  dot += "// Edges: red w > 0, blue w < 0; penwidth, opacity and spring strength (weight up, len down)\n";
  dot += "// grow with |w| / (largest |w| in the same layer), so each input sits next to its dedicated units;\n";
  dot += "// hidden->output edges are longer and softer, spokes of a wheel around y.\n";
  dot += printf_string("// Largest |w|: W0 %.6g, W1 %.6g.\n", scales.max0, scales.max1);
  dot += printf_string(
      "// Omitted: %lld of %lld input->hidden and %lld of %lld hidden->output edges, with |w| below %g%% of their\n"
      "// layer's largest |w| (or zero or non-finite: %lld non-finite weights).\n",
      static_cast<long long>(kept.omitted0), static_cast<long long>(n * m), static_cast<long long>(kept.omitted1),
      static_cast<long long>(m), 100.0 * options.omit_fraction, static_cast<long long>(scales.non_finite));
  dot += printf_string("// Faint: %lld hidden units with importance c_j = |W1[j]|*||W0[:,j]|| below %g%% of the largest (%.6g)",
                       static_cast<long long>(units.faint_units.size()), 100.0 * options.faint_importance, units.max_c);
  dot += units.faint_units.empty() ? ".\n" : ": h" + join(units.faint_units, " h") + ".\n";
  return dot;
}

// Graph attributes and the nodes: inputs, hidden units (faint or not), the output.
std::string dot_nodes(const HostNetwork& net, const DrawingOptions& options, const UnitImportance& units) {
  const std::int64_t n = net.n, m = net.m;
  std::string label;
  for (const std::string& line : options.label) label += (label.empty() ? "" : "\n") + line;
  std::string dot = "graph hnet {\n";
  dot += "  graph [layout=" + options.layout +
         ", outputorder=edgesfirst, overlap=false, splines=false, bgcolor=white, pad=0.3,"
         " fontname=\"DejaVu Sans\", fontsize=14, labelloc=t, label=\"" +
         dot_escape(label) + "\"];\n";
  dot += "  node [shape=circle, style=filled, fixedsize=true, fontname=\"DejaVu Sans\", fontsize=10, color=\"#404040\", penwidth=0.6];\n";
  for (std::int64_t i = 0; i < n; ++i)
    dot += printf_string("  x%lld [label=\"x%lld\", fillcolor=\"%s\", width=0.38, tooltip=\"input %lld\"];\n",
                         static_cast<long long>(i), static_cast<long long>(i), kInput, static_cast<long long>(i));
  for (std::int64_t j = 0; j < m; ++j) {
    const std::string tip = printf_string("h%lld: b0 = %.4g, W1 = %.4g, c = %.4g%s", static_cast<long long>(j),
                                          double(net.b0[j]), double(net.w1[j]), units.c[j],
                                          units.faint[j] ? " (negligible)" : "");
    if (units.faint[j])
      dot += printf_string("  h%lld [label=\"\", fillcolor=\"%s\", color=\"%s\", width=0.2, tooltip=\"%s\"];\n",
                           static_cast<long long>(j), with_alpha(kHidden, 0.2).c_str(),
                           with_alpha("#404040", 0.25).c_str(), dot_escape(tip).c_str());
    else
      dot += printf_string("  h%lld [label=\"\", fillcolor=\"%s\", width=0.24, tooltip=\"%s\"];\n",
                           static_cast<long long>(j), kHidden, dot_escape(tip).c_str());
  }
  dot += printf_string("  y [label=\"y\", fillcolor=\"%s\", width=0.46, tooltip=\"output: b1 = %.4g\"];\n", kOutput,
                       double(net.b1));
  return dot;
}

std::string dot_edges(const std::vector<DrawnEdge>& edges, const DrawingOptions& options) {
  // Every used hidden unit hangs on the output, so the output edges are the spokes of a wheel:
  // their length grows with the number of spokes so the units fit around the rim, and their
  // springs stay weaker than the input edges, which decide where each unit sits.
  std::int64_t spokes = 0;
  for (const DrawnEdge& e : edges) spokes += e.to == "y" && !e.faint;
  const double rim = std::max(1.0, 0.45 * static_cast<double>(spokes) / (2.0 * 3.141592653589793));
  std::string dot;
  for (const DrawnEdge& e : edges) {
    const double r = e.relative;
    const bool output_edge = e.to == "y";
    // A unit that does not reach the output keeps its springs (its place in the layout) but
    // should not look like part of the algorithm.
    const double alpha = (0.15 + 0.85 * r) * (e.faint ? 0.3 : 1.0);
    const double width = options.min_penwidth + (options.max_penwidth - options.min_penwidth) * r;
    const double weight = output_edge ? 1.0 + 2.0 * r : 1.0 + 9.0 * r;
    const double length = output_edge ? rim * (1.5 - 0.5 * r) : 2.0 - 1.6 * r;
    dot += printf_string("  %s -- %s [color=\"%s\", penwidth=%.3f, weight=%.3f, len=%.3f, tooltip=\"%s\"];\n",
                         e.from.c_str(), e.to.c_str(), with_alpha(e.w > 0 ? kPositive : kNegative, alpha).c_str(),
                         width, weight, length, dot_escape(e.tooltip).c_str());
  }
  return dot;
}

}  // namespace

std::string network_dot(const HostNetwork& net, const DrawingOptions& options) {
  check_drawable(net, options);
  const LayerScales scales = layer_scales(net);
  const UnitImportance units = unit_importance(net, options);
  const KeptEdges kept = kept_edges(net, scales, units, options);
  return dot_comments(net, options, scales, units, kept) + dot_nodes(net, options, units) +
         dot_edges(kept.edges, options) + "}\n";
}

std::string SweepContents::class_name(std::int64_t code) const {
  if (code >= 0 && code < static_cast<std::int64_t>(class_names.size())) return class_names[code];
  return "class " + std::to_string(code);
}

std::string SweepContents::describe() const {
  if (records.empty()) return path + " holds no records";
  std::map<std::int64_t, std::set<std::int64_t>> steps_of;
  std::set<std::int64_t> seeds;
  std::set<double> betas;
  bool samples = false, means = false;
  for (const SweepRecord& r : records) {
    steps_of[r.n].insert(r.step), seeds.insert(r.generation_seed), betas.insert(r.log10_beta);
    (r.posterior_mean ? means : samples) = true;
  }
  std::string out = path + " holds " + std::to_string(records.size()) + " networks:";
  std::string names;
  for (std::size_t k = 0; k < jobs.size(); ++k) names += (k ? ", " : "") + jobs[k];
  out += "\n  jobs: " + (names.empty() ? std::string("(none listed)") : names);
  std::vector<std::int64_t> sizes;
  for (const auto& [n, s] : steps_of) sizes.push_back(n);
  out += "\n  sizes n: " + join(sizes, ", ") + " (training n = " + std::to_string(training_n) + ")";
  // Sizes sharing one list of steps are listed together: usually the training n has every saved
  // step and the generalisation sizes only the last.
  std::map<std::set<std::int64_t>, std::vector<std::int64_t>> sizes_with;
  for (const auto& [n, s] : steps_of) sizes_with[s].push_back(n);
  for (const auto& [s, ns] : sizes_with)
    out += "\n  steps at n = " + join(ns, ", ") + ": " + join(std::vector<std::int64_t>(s.begin(), s.end()), ", ");
  out += printf_string("\n  log10(beta): %.4g to %.4g (%zu values; beta %.3g to %.3g)", *betas.begin(), *betas.rbegin(),
                       betas.size(), std::pow(10.0, *betas.begin()), std::pow(10.0, *betas.rbegin()));
  out += "\n  generation seeds: " + join(std::vector<std::int64_t>(seeds.begin(), seeds.end()), ", ");
  out += std::string("\n  posterior: ") + (samples && means ? "sample and mean" : means ? "mean only" : "sample only");
  return out;
}

SweepContents read_sweep(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw std::runtime_error(path + ": no such file (hnet sweep writes <output.dir>/sweep.h5)");
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) throw std::runtime_error(path + " is not an HDF5 file (expected a sweep file from hnet sweep)");
  Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw std::runtime_error("cannot open " + path + " (truncated or damaged HDF5 file)");
  // The columns a drawing needs (older files lack some of the others).
  using F = RecordField;
  static const F needed[] = {F::job, F::step, F::log10_beta, F::generation_seed, F::n, F::m, F::posterior_mean,
                             F::loss, F::normalised_loss, F::kl_nats, F::kl_bits, F::o1, F::o2, F::o3,
                             F::coverage, F::algorithm_class, F::network_row};
  const auto name = [](F field) { return std::string(record_field(field).name); };
  std::string missing;
  for (F field : needed)
    if (!has_link(file, "records/" + name(field))) missing += std::string(missing.empty() ? "" : ", ") + "records/" + name(field);
  const bool has_classes = H5Aexists(file, "class_names") > 0;
  file.close();
  if (!missing.empty() || !has_classes)
    throw std::runtime_error(path + " is not an hnet sweep file (missing: " +
                             (missing.empty() ? std::string("") : missing + (has_classes ? "" : ", ")) +
                             (has_classes ? "" : "attribute class_names") + ")");

  SweepContents s;
  s.path = path;
  s.class_names = split_lines(read_hdf5_string_attribute(path, "/", "class_names"));
  try {
    s.jobs = split_lines(read_hdf5_string_attribute(path, "/", "jobs"));
  } catch (const std::runtime_error&) {
    // Older or hand-made files: job indices are still shown, only without names.
  }

  std::map<F, std::vector<double>> column;
  std::size_t rows = 0;
  for (F field : needed) {
    std::vector<std::int64_t> dims;
    column[field] = read_hdf5_dataset(path, "records/" + name(field), &dims);
    if (dims.size() != 1) throw std::runtime_error(path + ": records/" + name(field) + " is not one-dimensional");
    if (field == needed[0]) rows = column[field].size();
    if (column[field].size() != rows)
      throw std::runtime_error(path + ": records/" + name(field) + " has " + std::to_string(column[field].size()) +
                               " rows, records/" + name(needed[0]) + " has " + std::to_string(rows));
  }
  s.records.resize(rows);
  auto real = [&](F field, std::size_t r) { return column[field][r]; };
  auto integer = [&](F field, std::size_t r) { return static_cast<std::int64_t>(column[field][r]); };
  for (std::size_t r = 0; r < rows; ++r) {
    SweepRecord& x = s.records[r];
    x.index = static_cast<std::int64_t>(r);
    x.job = integer(F::job, r), x.step = integer(F::step, r), x.generation_seed = integer(F::generation_seed, r);
    x.n = integer(F::n, r), x.m = integer(F::m, r), x.posterior_mean = integer(F::posterior_mean, r) != 0;
    x.log10_beta = real(F::log10_beta, r), x.loss = real(F::loss, r), x.normalised_loss = real(F::normalised_loss, r);
    x.kl_nats = real(F::kl_nats, r), x.kl_bits = real(F::kl_bits, r);
    x.o1 = real(F::o1, r), x.o2 = real(F::o2, r), x.o3 = real(F::o3, r), x.coverage = real(F::coverage, r);
    x.algorithm_class = integer(F::algorithm_class, r), x.network_row = integer(F::network_row, r);
  }

  // The training n is the deck's; read without the schema (not parse_deck) so that a file from a
  // version with other deck keys can still be drawn.
  try {
    if (auto n = toml_integer(read_hdf5_string_attribute(path, "/", "deck"), "target", "n")) s.training_n = *n;
  } catch (const std::exception&) {
  }
  if (s.training_n <= 0) {
    // Without a readable deck, the training n is the size evaluated most often (at every step).
    std::map<std::int64_t, std::size_t> count;
    for (const SweepRecord& r : s.records) ++count[r.n];
    for (const auto& [n, c] : count)
      if (s.training_n <= 0 || c > count[s.training_n]) s.training_n = n;
  }
  return s;
}

const SweepRecord& select_record(const SweepContents& s, const RecordQuery& q) {
  auto fail = [&](const std::string& why) { return std::runtime_error(s.path + ": " + why + "\n" + s.describe()); };
  const std::int64_t n = q.n > 0 ? q.n : s.training_n;
  const std::string job = q.job >= 0 && q.job < static_cast<std::int64_t>(s.jobs.size())
                              ? "job " + s.jobs[q.job]
                              : "job " + std::to_string(q.job);
  std::vector<const SweepRecord*> at_n;
  bool job_seen = false;
  for (const SweepRecord& r : s.records) {
    job_seen = job_seen || r.job == q.job;
    if (r.job == q.job && r.n == n) at_n.push_back(&r);
  }
  if (!job_seen) throw fail("no networks of " + job);
  if (at_n.empty()) throw fail("no networks with n = " + std::to_string(n) + " for " + job);

  std::int64_t step = q.step;
  if (step < 0)
    for (const SweepRecord* r : at_n) step = std::max(step, r->step);
  std::vector<const SweepRecord*> at_step;
  for (const SweepRecord* r : at_n)
    if (r->step == step) at_step.push_back(r);
  if (at_step.empty()) throw fail("no networks at step " + std::to_string(step) + " with n = " + std::to_string(n));

  std::vector<const SweepRecord*> candidates;
  for (const SweepRecord* r : at_step)
    if (r->posterior_mean == q.posterior_mean && r->generation_seed == q.generation_seed) candidates.push_back(r);
  if (candidates.empty())
    throw fail(printf_string("no %s networks with generation seed %lld at step %lld, n = %lld",
                             q.posterior_mean ? "posterior-mean" : "posterior-sample",
                             static_cast<long long>(q.generation_seed), static_cast<long long>(step),
                             static_cast<long long>(n)));

  const SweepRecord* best = nullptr;
  std::set<double> grid;
  for (const SweepRecord* r : candidates) {
    grid.insert(r->log10_beta);
    if (!best || std::fabs(r->log10_beta - q.log10_beta) < std::fabs(best->log10_beta - q.log10_beta)) best = r;
  }
  // Any β inside the grid is drawn at its nearest grid point; far outside it is a mistake.
  double spacing = grid.size() > 1 ? 0.0 : 0.5;
  for (auto it = grid.begin(); it != grid.end() && std::next(it) != grid.end(); ++it)
    spacing = std::max(spacing, *std::next(it) - *it);
  if (std::fabs(best->log10_beta - q.log10_beta) > spacing * (1 + 1e-9))
    throw fail(printf_string("no beta near %.4g (log10 %.4g): at step %lld, n = %lld the grid runs over log10(beta) "
                             "%.4g to %.4g",
                             std::pow(10.0, q.log10_beta), q.log10_beta, static_cast<long long>(step),
                             static_cast<long long>(n), *grid.begin(), *grid.rbegin()));
  return *best;
}

HostNetwork read_sweep_network(const SweepContents& s, const SweepRecord& r) {
  if (r.n < 1 || r.m < 1) throw std::runtime_error(s.path + ": record " + std::to_string(r.index) + " has no valid n, m");
  const std::string group = "networks/n" + std::to_string(r.n);
  HostNetwork net(r.n, r.m);
  net.w0 = read_row(s.path, group + "/W0", r.network_row, r.n * r.m);
  net.b0 = read_row(s.path, group + "/b0", r.network_row, r.m);
  net.w1 = read_row(s.path, group + "/W1", r.network_row, r.m);
  net.b1 = read_row(s.path, group + "/b1", r.network_row, 1).front();
  std::vector<std::int64_t> dims;
  const std::vector<double> owners = read_hdf5_dataset(s.path, group + "/record", &dims);
  if (r.network_row >= static_cast<std::int64_t>(owners.size()) ||
      static_cast<std::int64_t>(owners[r.network_row]) != r.index)
    throw std::runtime_error(s.path + ": " + group + "/record does not point back at record " + std::to_string(r.index) +
                             " from row " + std::to_string(r.network_row) + " (inconsistent sweep file)");
  return net;
}

std::string render_graphviz(const std::string& program, const std::string& dot_path,
                            const std::vector<GraphvizOutput>& outputs) {
  std::vector<std::string> args{program}, temporaries;
  for (const GraphvizOutput& o : outputs) {
    temporaries.push_back(o.path + ".tmp." + std::to_string(::getpid()));
    args.push_back("-T" + o.format), args.push_back("-o"), args.push_back(temporaries.back());
  }
  args.push_back(dot_path);
  std::string command;
  for (const std::string& a : args) {
    const bool plain = a.find_first_of(" \t'\"\\$`") == std::string::npos && !a.empty();
    command += (command.empty() ? "" : " ") + (plain ? a : "'" + a + "'");
  }
  auto cleanup = [&] {
    for (const std::string& t : temporaries) std::remove(t.c_str());
  };

  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("cannot run `" + command + "`: pipe: " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    cleanup();
    throw std::runtime_error("cannot run `" + command + "`: " + std::strerror(spawned) +
                             (spawned == ENOENT ? " (Graphviz is not installed or not on PATH: Debian package graphviz)" : ""));
  }
  std::string printed;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (got > 0) printed.append(buffer, static_cast<std::size_t>(got));
    else if (got == 0 || errno != EINTR) break;
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string failure;
  if (WIFSIGNALED(status)) failure = "killed by signal " + std::to_string(WTERMSIG(status));
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failure = "exit status " + std::to_string(WEXITSTATUS(status));
  for (const std::string& t : temporaries)
    if (failure.empty() && !fs::exists(t)) failure = "it wrote no " + t;
  if (!failure.empty()) {
    cleanup();
    throw std::runtime_error("`" + command + "` failed (" + failure + ")" + (printed.empty() ? "" : ":\n" + printed));
  }
  for (std::size_t k = 0; k < outputs.size(); ++k)
    if (std::rename(temporaries[k].c_str(), outputs[k].path.c_str()) != 0) {
      const std::string reason = std::strerror(errno);
      cleanup();
      throw std::runtime_error("cannot rename " + temporaries[k] + " to " + outputs[k].path + ": " + reason);
    }
  return printed;
}

}  // namespace hnet
