// Deck broadcast: run with `mpiexec -n 2`. Rank 0 alone reads the file; every rank
// must end with the same deck, or with the same DeckError.
//
// Every test body reaches every collective on every rank: only non-fatal EXPECTs are
// used, since an ASSERT returning early on one rank would leave the others waiting.
#include "hnet/deck_mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "fp_traps.hpp"

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// Rank `root`'s string, on every rank.
std::string broadcast_string(std::string s, int root) {
  int64_t length = static_cast<int64_t>(s.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
  s.resize(static_cast<std::size_t>(length));
  if (length > 0) MPI_Bcast(s.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD);
  return s;
}

bool on_all_ranks(bool value) {
  int mine = value ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

// Rank 0 writes the deck; every rank gets its path once the file is complete.
std::string write_deck_on_rank0(const std::string& text) {
  std::string path;
  if (world_rank() == 0) {
    path = ::testing::TempDir() + "hnet_deck_mpi_XXXXXX";
    const int fd = mkstemp(path.data());
    EXPECT_GE(fd, 0) << path;
    if (fd >= 0) close(fd);
    std::ofstream(path, std::ios::binary) << text;
  }
  path = broadcast_string(path, 0);
  MPI_Barrier(MPI_COMM_WORLD);
  return path;
}

void remove_on_rank0(const std::string& path) {
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) std::remove(path.c_str());
}

// The DeckError message this rank saw, or "" when the deck loaded.
std::string load_error(const std::string& path, const std::vector<std::string>& overrides) {
  try {
    hnet::load_deck_broadcast(path, overrides, MPI_COMM_WORLD);
  } catch (const hnet::DeckError& e) {
    return e.what();
  }
  return {};
}

// Ranks other than 0 print only their failures, each line tagged with the rank.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?",
                 r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace

TEST(DeckMpi, RunsOnAtLeastTwoRanks) { EXPECT_GE(world_size(), 2) << "run under mpiexec -n 2"; }

TEST(DeckMpi, DeckReadOnRankZeroArrivesIdenticalOnEveryRank) {
  const std::string path = write_deck_on_rank0(
      "[target]\nn = 8\n"
      "[model]\nu_init = 0.30000000000000004\nreadout = \"edge\"\n"
      "[train]\nlr = 0.0033333333333333335\nlog10_beta_min = -7\n"
      "[sweep]\nsizes = [4, 12]\n"
      "[parallel]\nmode = \"fixed_beta\"\nfixed_log10_betas = [-6.5, -3, 0.25]\n"
      "[output]\ndir = \"results/mpi \\\"test\\\"\"\n");
  const hnet::Deck deck = hnet::load_deck_broadcast(path, {"train.steps=1234", "output.log_every=7"},
                                                    MPI_COMM_WORLD);
  const std::string mine = hnet::to_toml(deck);
  const std::string rank0 = broadcast_string(mine, 0);
  EXPECT_TRUE(on_all_ranks(mine == rank0)) << mine;

  EXPECT_EQ(deck.target.n, 8);
  EXPECT_EQ(deck.model.u_init, 0.1 + 0.2);
  EXPECT_EQ(deck.model.readout, hnet::Readout::edge);
  EXPECT_EQ(deck.train.lr, 1.0 / 300.0);
  EXPECT_EQ(deck.train.steps, 1234);
  EXPECT_EQ(deck.output.log_every, 7);
  EXPECT_EQ(deck.parallel.fixed_log10_betas, (std::vector<double>{-6.5, -3.0, 0.25}));
  EXPECT_EQ(deck.output.dir, "results/mpi \"test\"");
  EXPECT_EQ(deck.source, path);
  remove_on_rank0(path);
}

TEST(DeckMpi, BadDeckThrowsTheSameMessageOnEveryRank) {
  const std::string path = write_deck_on_rank0("[train]\nsteps = 10\nbatch_x = \"wide\"\n[modle]\n");
  const std::string mine = load_error(path, {});
  const std::string rank0 = broadcast_string(mine, 0);
  EXPECT_TRUE(on_all_ranks(!mine.empty()));
  EXPECT_TRUE(on_all_ranks(mine == rank0)) << mine;
  EXPECT_NE(mine.find(path + ":3:11: train.batch_x: expected integer, got string"), std::string::npos) << mine;
  EXPECT_NE(mine.find(path + ":4:2: modle: unknown section"), std::string::npos) << mine;
  remove_on_rank0(path);
}

TEST(DeckMpi, SyntaxErrorAndBadOverrideThrowOnEveryRank) {
  const std::string path = write_deck_on_rank0("[train]\nsteps = = 3\n");
  const std::string syntax = load_error(path, {});
  EXPECT_TRUE(on_all_ranks(syntax.rfind(path + ":2:", 0) == 0)) << syntax;
  EXPECT_TRUE(on_all_ranks(syntax == broadcast_string(syntax, 0)));
  remove_on_rank0(path);

  const std::string good = write_deck_on_rank0("[model]\nd = 32\n");
  const std::string override_error = load_error(good, {"model.heads=5"});
  EXPECT_TRUE(on_all_ranks(override_error.rfind("--set model.heads=5: model.heads:", 0) == 0)) << override_error;
  EXPECT_TRUE(on_all_ranks(override_error == broadcast_string(override_error, 0)));
  remove_on_rank0(good);
}

TEST(DeckMpi, MissingFileThrowsOnEveryRank) {
  const std::string path = ::testing::TempDir() + "hnet_no_such_deck.toml";
  const std::string mine = load_error(path, {});
  EXPECT_TRUE(on_all_ranks(mine.find(path) != std::string::npos && mine.find("No such file") != std::string::npos))
      << mine;
  EXPECT_TRUE(on_all_ranks(mine == broadcast_string(mine, 0)));
}

// Alternating good and bad decks must keep every rank in step: a rank that skipped or
// repeated a broadcast would receive another call's text.
TEST(DeckMpi, AlternatingGoodAndBadDecksStayInStep) {
  const std::string path = write_deck_on_rank0("[train]\nsteps = 100\n");
  bool consistent = true;
  for (int i = 0; i < 20; ++i) {
    const std::vector<std::string> overrides = {i % 2 ? "train.steps=0" : "train.steps=" + std::to_string(i + 1)};
    std::string outcome = load_error(path, overrides);
    if (outcome.empty())
      outcome = "steps=" + std::to_string(hnet::load_deck_broadcast(path, overrides, MPI_COMM_WORLD).train.steps);
    consistent = consistent && outcome == broadcast_string(outcome, 0);
    if (i == 4) {
      EXPECT_EQ(outcome, "steps=5");
    }
    if (i == 5) {
      EXPECT_NE(outcome.find("must be in [1, 1000000000], got 0"), std::string::npos) << outcome;
    }
  }
  EXPECT_TRUE(on_all_ranks(consistent));
  remove_on_rank0(path);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  hnet::testing::enable_fp_traps();
  const int rank = world_rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
