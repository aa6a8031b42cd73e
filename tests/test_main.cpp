// GoogleTest main for Kokkos tests. Kokkos is initialised in a test environment, not in main, so
// `--gtest_list_tests` (run by gtest_discover_tests) prints test names only: Kokkos' start-up
// warnings once became "tests" that passed.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <cstdlib>

#include "fp_traps.hpp"

namespace {
class KokkosEnvironment : public ::testing::Environment {
 public:
  KokkosEnvironment(int argc, char** argv) : argc_(argc), argv_(argv) {}
  void SetUp() override {
    Kokkos::initialize(argc_, argv_);
    hnet::testing::enable_fp_traps();
  }
  void TearDown() override { Kokkos::finalize(); }

 private:
  int argc_;
  char** argv_;
};
}  // namespace

int main(int argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new KokkosEnvironment(argc, argv));
  return RUN_ALL_TESTS();
}
