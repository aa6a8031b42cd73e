#pragma once
// The MPI layout of training (architecture.md): MPI_COMM_WORLD splits into groups of
// parallel.ranks_per_group ranks; each group trains its share of the jobs (one job per training
// seed, or per fixed β and seed), data-parallel inside the group: each rank owns a contiguous
// block of the step's B_β networks and the gradients are summed over the group.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "hnet/deck.hpp"
#include "kernels/views.hpp"

namespace hnet {

struct TrainingJob {
  std::int64_t seed_index = 0;
  std::uint64_t seed = 0;         // train.seed + seed_index
  bool fixed_beta = false;
  double log10_beta = 0.0;        // fixed-β mode only
  std::string name;               // "seed0", "beta-3_seed0"
};

struct GroupLayout {
  MPI_Comm world = MPI_COMM_WORLD, group = MPI_COMM_NULL;
  int world_rank = 0, world_size = 1, group_index = 0, group_count = 1, group_rank = 0, group_size = 1;
  std::int64_t local_begin = 0, local_count = 0;  // this rank's networks of a step
  std::vector<TrainingJob> jobs;                   // this group's jobs, in order
};

// All jobs of the deck, in the order groups take them round-robin.
std::vector<TrainingJob> training_jobs(const Deck& deck);

// Runs check on this rank; if it throws on any rank of comm, every rank throws the message of the
// lowest failing rank, so that all stop alike and the reason is printed whichever rank reports it.
// Collective over comm.
void collective_check(MPI_Comm comm, const std::function<void()>& check);

// Throws std::runtime_error with an explanation when the world does not fit the deck.
GroupLayout make_group_layout(const Deck& deck, MPI_Comm world);
void free_group_layout(GroupLayout& layout);

// Sums a gradient over the group so that the bits do not depend on the group size: every rank's
// partial sum is a subtree of the batch's pairwise tree (kernels/pairwise_sum.hpp), and the
// partials are combined with the same tree. A reduce-scatter and an allgather: θ is cut into one
// slice per rank; each rank receives every rank's partial of its own slice (MPI_Alltoallv), sums
// them in rank order, and the summed slices are gathered back (MPI_Allgatherv). Each rank sends
// and receives about 2|θ| whatever the group size (an allgather of whole gradients is R|θ|).
// Staged through host buffers allocated here unless hnet was built with HNET_GPU_AWARE_MPI (or
// runs on a host backend, where the gradient already is host memory).
class GroupReducer {
 public:
  GroupReducer(const GroupLayout& layout, std::int64_t length);
  void allreduce(const View1<float>& gradient);
  // Bytes the reducer holds for a group of `ranks` and a gradient of `length` floats.
  static std::size_t bytes(int ranks, std::int64_t length);

 private:
#if defined(HNET_GPU_AWARE_MPI)
  using StageSpace = ExecSpace;
#else
  using StageSpace = std::conditional_t<std::is_same<MemSpace, Kokkos::HostSpace>::value, ExecSpace,
                                        Kokkos::DefaultHostExecutionSpace>;
#endif
  static constexpr bool staged = !std::is_same<StageSpace, ExecSpace>::value;
  MPI_Comm comm_;
  int size_ = 1, rank_ = 0;
  std::int64_t slice_ = 0;                   // floats per slice (the last may be shorter)
  std::vector<int> counts_, offsets_;        // per rank: its slice's length and offset in θ
  std::vector<int> received_counts_, received_offsets_;  // my slice from each rank, into received_
  View2<float, typename StageSpace::memory_space> received_;  // [rank][slice]: partials of my slice
  View1<float, Kokkos::HostSpace> staging_;  // the whole gradient on the host (staged builds only)
};

}  // namespace hnet
