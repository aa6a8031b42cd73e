// Training end to end, in process: the loss falls, a restart continues bit for bit, and the
// result does not depend on how many ranks share a seed group. Runs under mpiexec (1 or 2 ranks).
#include <gtest/gtest.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fp_traps.hpp"
#include "hnet/deck.hpp"
#include "hnet/hdf5_file.hpp"
#include "hnet/job_file.hpp"
#include "hnet/sweep.hpp"
#include "hnet/trainer.hpp"

namespace fs = std::filesystem;

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// A deck small enough to train in seconds; every job writes under `dir`.
hnet::Deck tiny_deck(const std::string& dir, std::int64_t steps) {
  return hnet::parse_deck(
      "[target]\nn = 4\n[model]\nd = 8\nheads = 2\nblocks = 1\nlatent = 2\nidentity_dim = 4\nphi_hidden = 8\n"
      "phi_dim = 4\n[train]\nbatch_beta = 4\nbatch_x = 32\nwarmup_steps = 2\ncurriculum_hold_steps = 2\n"
      "curriculum_widen_steps = 2\nlr = 3e-3\n[output]\nlog_every = 1000\ncheckpoint_every = 2\nsave_models = 3\n"
      "overwrite = true\n",
      "<tiny>", {"train.steps=" + std::to_string(steps), "output.dir=\"" + dir + "\""});
}

std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "hnet_training_tests" / name;
  if (world_rank() == 0) fs::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  return dir.string();
}

void expect_same_dataset(const std::string& a, const std::string& b, const std::string& name) {
  const std::vector<double> va = hnet::read_hdf5_dataset(a, name), vb = hnet::read_hdf5_dataset(b, name);
  ASSERT_EQ(va.size(), vb.size()) << name;
  std::size_t differ = 0;
  for (std::size_t k = 0; k < va.size(); ++k) differ += !(va[k] == vb[k] || (std::isnan(va[k]) && std::isnan(vb[k])));
  EXPECT_EQ(differ, 0u) << name << ": " << differ << " of " << va.size() << " values differ between " << a << " and " << b;
}

// Two output directories' seed0 results and saved models.
void expect_same_results(const std::string& dir_a, const std::string& dir_b) {
  const std::string a = dir_a + "/seed0.h5", b = dir_b + "/seed0.h5";
  for (const char* name : {"theta", "history/objective", "history/loss", "history/kl", "history/grad_norm",
                           "history/network_loss", "history/network_kl", "history/network_log10_beta", "models/steps"})
    expect_same_dataset(a, b, name);
  for (double step : hnet::read_hdf5_dataset(a, "models/steps")) {
    const std::string model = "/models/seed0/step_" + std::to_string(static_cast<long long>(step)) + ".h5";
    expect_same_dataset(dir_a + model, dir_b + model, "theta");
  }
}

hnet::TrainOptions quiet() {
  hnet::TrainOptions o;
  o.quiet = true;
  return o;
}

}  // namespace

TEST(Training, TheLossFallsOnATinyDeck) {
  const std::string dir = scratch("falls");
  hnet::Deck deck = tiny_deck(dir, 40);
  deck.train.log10_beta_min = -7, deck.train.log10_beta_max = -6;
  const hnet::TrainSummary s = hnet::train(deck, quiet(), MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  const std::string file = hnet::job_results_path(deck, "seed0");
  const std::vector<double> loss = hnet::read_hdf5_dataset(file, "history/normalised_loss");
  ASSERT_EQ(loss.size(), 40u);
  double early = 0, late = 0;
  for (int k = 0; k < 5; ++k) early += loss[k], late += loss[35 + k];
  EXPECT_LT(late, 0.5 * early) << "normalised loss did not fall: first steps " << early / 5 << ", last " << late / 5;
  EXPECT_EQ(hnet::read_hdf5_dataset(file, "models/steps"), (std::vector<double>{0, 1, 6, 40}));
}

TEST(Training, RestartContinuesBitForBit) {
  const std::string whole = scratch("restart_whole"), parts = scratch("restart_parts");
  hnet::train(tiny_deck(whole, 6), quiet(), MPI_COMM_WORLD);
  hnet::TrainOptions first = quiet();
  first.stop_after_steps = 3;  // stops between checkpoints (every 2 steps): the checkpoint at 3 is the stop's own
  hnet::train(tiny_deck(parts, 6), first, MPI_COMM_WORLD);
  hnet::TrainOptions second = quiet();
  second.restart = true;
  hnet::train(tiny_deck(parts, 6), second, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  expect_same_results(whole, parts);
}

TEST(Training, RankCountDoesNotChangeTheResult) {
  if (world_size() < 2) GTEST_SKIP() << "needs 2 ranks (run under mpiexec -n 2)";
  const std::string one = scratch("ranks_one"), two = scratch("ranks_two");
  // Reference: rank 0 alone, one rank per group.
  MPI_Comm self;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank(), 0, &self);
  if (world_rank() == 0) hnet::train(tiny_deck(one, 4), quiet(), self);
  MPI_Comm_free(&self);
  // Both ranks in one group, each owning half of the networks.
  hnet::Deck deck = tiny_deck(two, 4);
  deck.parallel.ranks_per_group = 2;
  hnet::train(deck, quiet(), MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  expect_same_results(one, two);
}

// train.sizes: every step draws one input size for all of its networks, from (seed, step) alone, so
// a restart and a change of rank count still reproduce the bits; and the run is not the
// single-size run.
TEST(Training, SeveralSizesRestartAndRankCountKeepTheBits) {
  const std::string whole = scratch("sizes_whole"), parts = scratch("sizes_parts"), single = scratch("sizes_single");
  auto deck = [](const std::string& dir) {
    hnet::Deck d = tiny_deck(dir, 6);
    d.train.sizes = {3, 4, 6};
    return d;
  };
  hnet::train(deck(whole), quiet(), MPI_COMM_WORLD);
  hnet::TrainOptions first = quiet();
  first.stop_after_steps = 3;
  hnet::train(deck(parts), first, MPI_COMM_WORLD);
  hnet::TrainOptions second = quiet();
  second.restart = true;
  hnet::train(deck(parts), second, MPI_COMM_WORLD);
  hnet::train(tiny_deck(single, 6), quiet(), MPI_COMM_WORLD);
  if (world_size() >= 2) {
    const std::string two = scratch("sizes_two");
    hnet::Deck d = deck(two);
    d.parallel.ranks_per_group = 2;
    hnet::train(d, quiet(), MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) expect_same_results(whole, two);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  expect_same_results(whole, parts);
  EXPECT_NE(hnet::read_hdf5_dataset(whole + "/seed0.h5", "theta"), hnet::read_hdf5_dataset(single + "/seed0.h5", "theta"))
      << "train.sizes made no difference";
}

TEST(Sweep, RankCountDoesNotChangeTheFile) {
  if (world_size() < 2) GTEST_SKIP() << "needs 2 ranks (run under mpiexec -n 2)";
  const std::string dir = scratch("sweep_ranks");
  hnet::Deck deck = tiny_deck(dir, 4);
  deck.sweep.beta_points = 5, deck.sweep.generation_seeds = 2, deck.sweep.sizes = {3, 6};
  deck.task.eval_size = 512;
  hnet::train(deck, quiet(), MPI_COMM_WORLD);
  hnet::SweepOptions one, two;
  one.quiet = two.quiet = true;
  one.output = dir + "/sweep_one_rank.h5", two.output = dir + "/sweep_two_ranks.h5";
  MPI_Comm self;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank(), 0, &self);
  if (world_rank() == 0) hnet::run_sweep(deck, one, self);
  MPI_Comm_free(&self);
  hnet::run_sweep(deck, two, MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  for (const char* name : {"records/log10_beta", "records/step", "records/n", "records/posterior_mean", "records/loss",
                           "records/kl_nats", "records/o1", "records/o2", "records/o3", "records/class",
                           "records/network_row", "networks/n3/W0", "networks/n4/W0", "networks/n6/W1",
                           "networks/n4/b1", "grid/log10_beta", "grid/steps", "grid/sizes"})
    expect_same_dataset(one.output, two.output, name);
}

TEST(Training, ARunThatExistsIsNotOverwrittenWithoutConsent) {
  const std::string dir = scratch("exists");
  hnet::Deck deck = tiny_deck(dir, 2);
  deck.parallel.seeds = world_size();  // every rank's group has a job to refuse
  hnet::train(deck, quiet(), MPI_COMM_WORLD);
  deck.output.overwrite = false;
  EXPECT_THROW(hnet::train(deck, quiet(), MPI_COMM_WORLD), std::runtime_error);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  setenv("OMP_PROC_BIND", "false", 0);
  int code = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    hnet::testing::enable_fp_traps();
    ::testing::InitGoogleTest(&argc, argv);
    if (world_rank() != 0) {
      auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
    }
    code = RUN_ALL_TESTS();
  }
  MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return code;
}
