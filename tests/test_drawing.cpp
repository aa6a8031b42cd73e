#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <regex>
#include <sstream>

#include "hnet/drawing.hpp"
#include "hnet/file_io.hpp"
#include "hnet/hdf5_file.hpp"

namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("hnet_test_drawing_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

// n = 2, m = 3: x0 → h0 strong positive, x1 → h1 negative, x1 → h2 weaker positive, x0 → h2 tiny;
// h2 has no output weight, so it carries nothing.
hnet::HostNetwork tiny_network() {
  hnet::HostNetwork net(2, 3);
  net.weight0(0, 0) = 4.0f;
  net.weight0(1, 1) = -2.0f;
  net.weight0(1, 2) = 1.0f;
  net.weight0(0, 2) = 0.01f;
  net.w1 = {1.0f, 0.5f, 0.0f};
  net.b0 = {0.1f, 0.2f, 0.3f};
  net.b1 = -1.0f;
  return net;
}

// The attribute list of the DOT statement starting with `head` ("x0 -- h0", "h1"), or "" if absent.
std::string statement(const std::string& dot, const std::string& head) {
  std::istringstream in(dot);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("  " + head + " [", 0) == 0) return line;
  return "";
}

std::string attribute(const std::string& line, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(line, match, std::regex("[ \\[]" + name + "=\"?([^\",\\]]*)\"?"))) return "";
  return match[1];
}

int count_matches(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  return static_cast<int>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

}  // namespace

TEST(Drawing, NodesHaveOneColourPerKind) {
  hnet::DrawingOptions options;
  options.label = {"β = 1e-3", "class: pudding-minus"};
  const std::string dot = hnet::network_dot(tiny_network(), options);
  EXPECT_EQ(count_matches(dot, "\n  (x|h)[0-9]+ \\[label=|\n  y \\[label="), 6);
  for (const char* x : {"x0", "x1"}) EXPECT_EQ(attribute(statement(dot, x), "fillcolor"), "#2ca02c") << x;
  for (const char* h : {"h0", "h1"}) EXPECT_EQ(attribute(statement(dot, h), "fillcolor"), "#8c8c8c") << h;
  EXPECT_EQ(attribute(statement(dot, "y"), "fillcolor"), "#d62ad6");
  // The unit without an output weight is drawn faint (its colour carries a low alpha).
  const std::string faint = attribute(statement(dot, "h2"), "fillcolor");
  ASSERT_EQ(faint.size(), 9u);
  EXPECT_EQ(faint.substr(0, 7), "#8c8c8c");
  EXPECT_LT(std::stoi(faint.substr(7), nullptr, 16), 0x80);
  EXPECT_NE(dot.find("Faint: 1 hidden units"), std::string::npos) << dot;
  EXPECT_NE(dot.find("label=\"β = 1e-3\\nclass: pudding-minus\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("layout=neato"), std::string::npos);
}

TEST(Drawing, EdgeColourFollowsTheSignAndTinyEdgesAreOmitted) {
  const std::string dot = hnet::network_dot(tiny_network(), hnet::DrawingOptions{});
  EXPECT_EQ(attribute(statement(dot, "x0 -- h0"), "color").substr(0, 7), "#d62728");
  EXPECT_EQ(attribute(statement(dot, "x1 -- h1"), "color").substr(0, 7), "#1f4fd6");
  EXPECT_EQ(attribute(statement(dot, "x1 -- h2"), "color").substr(0, 7), "#d62728");
  EXPECT_EQ(attribute(statement(dot, "h0 -- y"), "color").substr(0, 7), "#d62728");
  // 0.01 is below 2 % of the largest W0 (4); zero weights are never edges.
  EXPECT_EQ(statement(dot, "x0 -- h2"), "");
  EXPECT_EQ(statement(dot, "x0 -- h1"), "");
  EXPECT_EQ(statement(dot, "h2 -- y"), "");
  EXPECT_EQ(count_matches(dot, " -- "), 5);
  EXPECT_NE(dot.find("// Omitted: 3 of 6 input->hidden and 1 of 3 hidden->output edges"), std::string::npos) << dot;

  hnet::DrawingOptions keep_all;
  keep_all.omit_fraction = 0.0;
  EXPECT_NE(statement(hnet::network_dot(tiny_network(), keep_all), "x0 -- h2"), "");
}

TEST(Drawing, WidthOpacityAndSpringGrowWithTheWeight) {
  const std::string dot = hnet::network_dot(tiny_network(), hnet::DrawingOptions{});
  const std::string strong = statement(dot, "x0 -- h0"), middle = statement(dot, "x1 -- h1"),
                    weak = statement(dot, "x1 -- h2");
  ASSERT_FALSE(strong.empty() || middle.empty() || weak.empty()) << dot;
  auto number = [](const std::string& line, const char* name) { return std::stod(attribute(line, name)); };
  EXPECT_GT(number(strong, "penwidth"), number(middle, "penwidth"));
  EXPECT_GT(number(middle, "penwidth"), number(weak, "penwidth"));
  EXPECT_GT(number(strong, "weight"), number(middle, "weight"));
  EXPECT_LT(number(strong, "len"), number(middle, "len"));
  auto alpha = [](const std::string& line) { return std::stoi(attribute(line, "color").substr(7), nullptr, 16); };
  EXPECT_GT(alpha(strong), alpha(middle));
  // The strongest weight of each layer gets the full width, whatever the layer's scale.
  EXPECT_DOUBLE_EQ(number(strong, "penwidth"), hnet::DrawingOptions{}.max_penwidth);
  EXPECT_DOUBLE_EQ(number(statement(dot, "h0 -- y"), "penwidth"), hnet::DrawingOptions{}.max_penwidth);
}

TEST(Drawing, DegenerateNetworksGiveAValidGraph) {
  hnet::HostNetwork zero(3, 9);
  const std::string dot = hnet::network_dot(zero, hnet::DrawingOptions{});
  EXPECT_EQ(count_matches(dot, " -- "), 0);
  EXPECT_NE(dot.find("Faint: 9 hidden units"), std::string::npos);
  hnet::HostNetwork broken = tiny_network();
  broken.weight0(1, 1) = std::numeric_limits<float>::quiet_NaN();
  const std::string with_nan = hnet::network_dot(broken, hnet::DrawingOptions{});
  EXPECT_EQ(statement(with_nan, "x1 -- h1"), "");
  EXPECT_NE(with_nan.find("1 non-finite weights"), std::string::npos);
  hnet::HostNetwork wrong = tiny_network();
  wrong.w1.pop_back();
  EXPECT_THROW(hnet::network_dot(wrong, hnet::DrawingOptions{}), std::invalid_argument);
}

namespace {

// A sweep file in hnet sweep's layout: training n = 2 at steps 10 and 20, n = 3 at step 20 only,
// log10β ∈ {−4, −2, 0}, generation seeds 0 and 1, posterior sample only.
std::string write_small_sweep(const std::string& path) {
  std::vector<std::int64_t> job, step, seed, n, m, mean, cls, row;
  std::vector<double> beta;
  std::map<std::int64_t, std::vector<std::int64_t>> owners;
  std::map<std::int64_t, std::vector<float>> w0, b0, w1, b1;
  auto add = [&](std::int64_t s, std::int64_t size, double lb, std::int64_t g) {
    const std::int64_t r = static_cast<std::int64_t>(job.size()), hidden = 3 * size;
    job.push_back(0), step.push_back(s), seed.push_back(g), n.push_back(size), m.push_back(hidden), mean.push_back(0);
    beta.push_back(lb), cls.push_back(lb < -3 ? 2 : 1), row.push_back(static_cast<std::int64_t>(owners[size].size()));
    owners[size].push_back(r);
    for (std::int64_t k = 0; k < size * hidden; ++k) w0[size].push_back(static_cast<float>(r + 0.001 * k));
    for (std::int64_t k = 0; k < hidden; ++k) b0[size].push_back(0.5f), w1[size].push_back(static_cast<float>(k + 1));
    b1[size].push_back(static_cast<float>(r));
  };
  for (std::int64_t s : {10, 20})
    for (double lb : {-4.0, -2.0, 0.0})
      for (std::int64_t g : {0, 1}) add(s, 2, lb, g);
  for (double lb : {-4.0, -2.0, 0.0}) add(20, 3, lb, 0);
  const std::int64_t rows = static_cast<std::int64_t>(job.size());
  std::vector<double> values(rows);
  for (std::int64_t r = 0; r < rows; ++r) values[r] = 0.01 * r;
  hnet::Hdf5Writer f(path);
  f.attribute("/", "deck", std::string("[target]\nn = 2 # input size\nhidden_ratio = 3\n"));
  f.attribute("/", "jobs", std::string("seed0"));
  f.attribute("/", "class_names", std::string("trivial\nconvexity\ndouble-sided\npudding-minus\npudding-plus"));
  f.write("records/job", {rows}, job.data());
  f.write("records/step", {rows}, step.data());
  f.write("records/log10_beta", {rows}, beta.data());
  f.write("records/generation_seed", {rows}, seed.data());
  f.write("records/n", {rows}, n.data());
  f.write("records/m", {rows}, m.data());
  f.write("records/posterior_mean", {rows}, mean.data());
  for (const char* name : {"loss", "normalised_loss", "kl_nats", "kl_bits", "o1", "o2", "o3", "coverage", "duplication"})
    f.write(std::string("records/") + name, {rows}, values.data());
  f.write("records/class", {rows}, cls.data());
  f.write("records/network_row", {rows}, row.data());
  for (const auto& [size, list] : owners) {
    const std::int64_t count = static_cast<std::int64_t>(list.size()), hidden = 3 * size;
    const std::string g = "networks/n" + std::to_string(size);
    f.write(g + "/W0", {count, size, hidden}, w0[size].data());
    f.write(g + "/b0", {count, hidden}, b0[size].data());
    f.write(g + "/W1", {count, hidden}, w1[size].data());
    f.write(g + "/b1", {count}, b1[size].data());
    f.write(g + "/record", {count}, list.data());
  }
  f.commit();
  return path;
}

}  // namespace

TEST(Drawing, SweepRecordsAreFoundAndNetworksReadBack) {
  const std::string path = write_small_sweep(scratch("sweep.h5").string());
  const hnet::SweepContents sweep = hnet::read_sweep(path);
  ASSERT_EQ(sweep.records.size(), 15u);
  EXPECT_EQ(sweep.training_n, 2);
  EXPECT_EQ(sweep.class_name(2), "double-sided");
  EXPECT_EQ(sweep.class_name(7), "class 7");

  hnet::RecordQuery q;
  q.log10_beta = -3.9;
  q.generation_seed = 1;
  const hnet::SweepRecord& r = hnet::select_record(sweep, q);
  EXPECT_EQ(r.step, 20);  // the largest step by default
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.generation_seed, 1);
  EXPECT_DOUBLE_EQ(r.log10_beta, -4.0);
  EXPECT_EQ(r.index, 7);
  q.step = 10, q.log10_beta = -1.2;
  EXPECT_EQ(hnet::select_record(sweep, q).index, 3);

  const hnet::HostNetwork net = hnet::read_sweep_network(sweep, r);
  ASSERT_EQ(net.n, 2);
  ASSERT_EQ(net.m, 6);
  EXPECT_FLOAT_EQ(net.weight0(1, 2), static_cast<float>(7 + 0.001 * 8));
  EXPECT_FLOAT_EQ(net.w1[5], 6.0f);
  EXPECT_FLOAT_EQ(net.b1, 7.0f);

  hnet::RecordQuery other_size;
  other_size.n = 3, other_size.log10_beta = 0.2;
  const hnet::SweepRecord& big = hnet::select_record(sweep, other_size);
  EXPECT_EQ(big.index, 14);
  EXPECT_FLOAT_EQ(hnet::read_sweep_network(sweep, big).b1, 14.0f);
}

TEST(Drawing, UnmatchedQueriesListWhatTheFileHolds) {
  const std::string path = write_small_sweep(scratch("sweep_errors.h5").string());
  const hnet::SweepContents sweep = hnet::read_sweep(path);
  auto message = [&](const hnet::RecordQuery& q) {
    try {
      hnet::select_record(sweep, q);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  hnet::RecordQuery far_beta;
  far_beta.log10_beta = 5;
  const std::string beta_error = message(far_beta);
  EXPECT_NE(beta_error.find("no beta near"), std::string::npos) << beta_error;
  EXPECT_NE(beta_error.find("log10(beta): -4 to 0 (3 values"), std::string::npos) << beta_error;
  EXPECT_NE(beta_error.find("generation seeds: 0, 1"), std::string::npos) << beta_error;
  EXPECT_NE(beta_error.find("sizes n: 2, 3 (training n = 2)"), std::string::npos) << beta_error;
  EXPECT_NE(beta_error.find("steps at n = 2: 10, 20"), std::string::npos) << beta_error;
  EXPECT_NE(beta_error.find("steps at n = 3: 20"), std::string::npos) << beta_error;

  hnet::RecordQuery q;
  q.n = 5;
  EXPECT_NE(message(q).find("no networks with n = 5"), std::string::npos);
  q = {}, q.generation_seed = 9;
  EXPECT_NE(message(q).find("generation seed 9"), std::string::npos);
  q = {}, q.posterior_mean = true;
  EXPECT_NE(message(q).find("posterior-mean"), std::string::npos);
  q = {}, q.step = 15;
  EXPECT_NE(message(q).find("no networks at step 15"), std::string::npos);
  q = {}, q.n = 3, q.step = 10;
  EXPECT_NE(message(q).find("no networks at step 10 with n = 3"), std::string::npos);
}

TEST(Drawing, BadSweepFilesAreNamed) {
  auto message = [](const std::string& path) {
    try {
      hnet::read_sweep(path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(scratch("absent.h5").string()).find("no such file"), std::string::npos);
  const std::string text = scratch("text.h5").string();
  std::ofstream(text) << "not hdf5\n";
  EXPECT_NE(message(text).find("is not an HDF5 file"), std::string::npos);
  const std::string foreign = scratch("foreign.h5").string();
  {
    hnet::Hdf5Writer w(foreign);
    const double x = 1;
    w.write("history/step", {1}, &x);
    w.commit();
  }
  const std::string foreign_error = message(foreign);
  EXPECT_NE(foreign_error.find("is not an hnet sweep file"), std::string::npos) << foreign_error;
  EXPECT_NE(foreign_error.find("records/class"), std::string::npos) << foreign_error;
  // A file cut short keeps its signature but cannot be opened.
  const std::string whole = write_small_sweep(scratch("whole.h5").string()), cut = scratch("cut.h5").string();
  fs::copy_file(whole, cut, fs::copy_options::overwrite_existing);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  EXPECT_NE(message(cut).find(cut), std::string::npos);
  EXPECT_EQ(message(cut).find("no error"), std::string::npos);
}

TEST(Drawing, GraphvizFailuresNameTheCommand) {
  const std::string dot = scratch("tiny.dot").string();
  hnet::write_file_atomically(dot, hnet::network_dot(tiny_network(), hnet::DrawingOptions{}));
  const std::string svg = scratch("tiny.svg").string();
  try {
    hnet::render_graphviz("hnet-no-such-graphviz", dot, {{"svg", svg}});
    FAIL() << "a missing program must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("hnet-no-such-graphviz -Tsvg -o"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("graphviz"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(svg));

  if (::access("/usr/bin/neato", X_OK) != 0) GTEST_SKIP() << "Graphviz's neato is not installed";
  hnet::render_graphviz("neato", dot, {{"svg", svg}});
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);

  const std::string broken = scratch("broken.dot").string();
  hnet::write_file_atomically(broken, "graph { x -- }\n");
  const std::string broken_svg = scratch("broken.svg").string();
  try {
    hnet::render_graphviz("neato", broken, {{"svg", broken_svg}});
    FAIL() << "a syntax error must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("neato -Tsvg"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(broken_svg));
}
