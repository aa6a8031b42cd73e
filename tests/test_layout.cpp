// The initial θ (model.md §7): model.type_scale sets the spread of the four type-vector tables and
// nothing else, so a run with small type vectors differs from the reference only there.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/hypernet_layout.hpp"

namespace {

const char* const kTypeTables[] = {"encoder.node_type", "encoder.edge_type", "decoder.node_type",
                                   "decoder.edge_type"};

bool is_type_table(const std::string& name) {
  for (const char* t : kTypeTables)
    if (name == t) return true;
  return false;
}

double rms(const std::vector<double>& theta, std::int64_t offset, std::int64_t count) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < count; ++i) sum += theta[offset + i] * theta[offset + i];
  return std::sqrt(sum / static_cast<double>(count));
}

TEST(Layout, TypeScaleScalesOnlyTheTypeVectors) {
  hnet::Deck reference = hnet::default_deck(), small = reference;
  small.model.type_scale = 0.1;
  const hnet::HypernetLayout a = hnet::build_layout(hnet::model_shape(reference));
  const hnet::HypernetLayout b = hnet::build_layout(hnet::model_shape(small));
  ASSERT_EQ(a.theta_size(), b.theta_size());
  const std::vector<double> ta = hnet::initial_theta<double>(a, 7), tb = hnet::initial_theta<double>(b, 7);

  int type_tables = 0;
  for (const hnet::TensorInfo& t : a.table.tensors()) {
    const std::int64_t at = a.theta_p0 + t.offset;
    if (is_type_table(t.name)) {
      ++type_tables;
      for (std::int64_t i = 0; i < t.size; ++i) EXPECT_NEAR(tb[at + i], 0.1 * ta[at + i], 1e-12) << t.name;
      EXPECT_NEAR(rms(ta, at, t.size), 1.0, 0.35) << t.name << ": N(0, 1) at type_scale 1";
    } else {
      for (std::int64_t i = 0; i < t.size; ++i) ASSERT_EQ(tb[at + i], ta[at + i]) << t.name << "[" << i << "]";
    }
  }
  EXPECT_EQ(type_tables, 4);
  for (std::int64_t i = a.theta_u; i < a.theta_size(); ++i) ASSERT_EQ(tb[i], ta[i]) << "U or phi, index " << i;
}

}  // namespace
