#pragma once
// Pictures of generated networks (model.md §10): the DOT text Graphviz's force-directed layouts
// draw, the look-ups in a sweep file that `hnet draw` needs, and running Graphviz.
#include <cstdint>
#include <string>
#include <vector>

#include "hnet/network.hpp"

namespace hnet {

struct DrawingOptions {
  std::string layout = "neato";         // Graphviz layout engine written into the DOT: neato | fdp
  std::vector<std::string> label;       // graph label, one entry per line, shown above the picture
  std::vector<std::string> comments;    // extra "// ..." lines at the top of the DOT text
  double omit_fraction = 0.02;          // edges with |w| < this × their layer's largest |w| are left out
  double faint_importance = 0.01;       // hidden units with c_j < this × max c are drawn faint
  double min_penwidth = 0.4, max_penwidth = 5.0;
};

// Undirected DOT graph: inputs x0..x{n-1} (green), hidden units h0..h{m-1} (gray), output y
// (magenta); one edge per kept weight, red for w > 0 and blue for w < 0, its penwidth, opacity and
// spring strength growing with |w| relative to the largest |w| of its layer (W0 or W1).
std::string network_dot(const HostNetwork& net, const DrawingOptions& options);

// One row of records/ in a sweep file (hnet sweep's <output.dir>/sweep.h5).
struct SweepRecord {
  std::int64_t index = 0, job = 0, step = 0, generation_seed = 0, n = 0, m = 0;
  bool posterior_mean = false;
  double log10_beta = 0, loss = 0, normalised_loss = 0, kl_nats = 0, kl_bits = 0;
  double o1 = 0, o2 = 0, o3 = 0, coverage = 0;
  std::int64_t algorithm_class = 0, network_row = 0;
};

struct SweepContents {
  std::string path;
  std::vector<std::string> jobs, class_names;
  std::int64_t training_n = 0;  // [target] n of the stored deck
  std::vector<SweepRecord> records;

  // The class name of a code; "class <code>" for a code class_names does not list.
  std::string class_name(std::int64_t code) const;
  // What the file holds (β range, seeds, sizes, steps, jobs), for error messages.
  std::string describe() const;
};

// Reads the records table. Throws std::runtime_error naming the file when it is missing, not
// HDF5, truncated, not a sweep file or internally inconsistent.
SweepContents read_sweep(const std::string& path);

struct RecordQuery {
  double log10_beta = 0;
  std::int64_t generation_seed = 0;
  std::int64_t n = 0;      // 0: the training n
  std::int64_t step = -1;  // < 0: the largest step evaluated at this n
  bool posterior_mean = false;
  std::int64_t job = 0;
};

// The record matching every field of the query whose log10β is closest to the requested one.
// No record within one β-grid spacing (half a decade for a single β) is an error, as is an
// unmatched field; the message lists what the file holds.
const SweepRecord& select_record(const SweepContents& sweep, const RecordQuery& query);

// The network a record points at (networks/n<N>/..., row network_row), read alone.
HostNetwork read_sweep_network(const SweepContents& sweep, const SweepRecord& record);

struct GraphvizOutput {
  std::string format;  // -T value: svg, png, ...
  std::string path;
};

// Runs `program -T<format> -o <path> ... dot_path` once (one layout for every output), writing
// each output under a temporary name first. Throws std::runtime_error naming the command line
// when the program cannot be started or exits with an error (with what it printed). Returns what
// it printed on success (warnings).
std::string render_graphviz(const std::string& program, const std::string& dot_path,
                            const std::vector<GraphvizOutput>& outputs);

}  // namespace hnet
