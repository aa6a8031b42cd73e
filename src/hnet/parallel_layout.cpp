#include "hnet/parallel_layout.hpp"

#include <climits>
#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "kernels/pairwise_sum.hpp"

namespace hnet {

namespace {
bool is_power_of_two(std::int64_t v) { return v > 0 && (v & (v - 1)) == 0; }
}  // namespace

std::vector<TrainingJob> training_jobs(const Deck& deck) {
  std::vector<TrainingJob> jobs;
  const bool fixed = deck.parallel.mode == ParallelMode::fixed_beta;
  const std::vector<double> betas = fixed ? deck.parallel.fixed_log10_betas : std::vector<double>{0.0};
  for (double beta : betas)
    for (std::int64_t s = 0; s < deck.parallel.seeds; ++s) {
      TrainingJob job;
      job.seed_index = s;
      job.seed = deck.train.seed + static_cast<std::uint64_t>(s);
      job.fixed_beta = fixed;
      job.log10_beta = beta;
      char name[96];
      if (fixed) std::snprintf(name, sizeof name, "beta%+g_seed%lld", beta, static_cast<long long>(s));
      else std::snprintf(name, sizeof name, "seed%lld", static_cast<long long>(s));
      job.name = name;
      jobs.push_back(job);
    }
  return jobs;
}

GroupLayout make_group_layout(const Deck& deck, MPI_Comm world) {
  GroupLayout L;
  L.world = world;
  MPI_Comm_rank(world, &L.world_rank);
  MPI_Comm_size(world, &L.world_size);
  const std::int64_t per_group = deck.parallel.ranks_per_group, batch = deck.train.batch_beta;
  if (L.world_size % per_group != 0)
    throw std::runtime_error("parallel.ranks_per_group = " + std::to_string(per_group) + " does not divide the " +
                             std::to_string(L.world_size) + " MPI ranks; start a multiple of it");
  if (!is_power_of_two(per_group) || batch % per_group != 0 || !is_power_of_two(batch / per_group))
    throw std::runtime_error(
        "parallel.ranks_per_group = " + std::to_string(per_group) + " with train.batch_beta = " + std::to_string(batch) +
        ": each rank must own a power-of-two block of networks (ranks_per_group a power of two dividing batch_beta, "
        "batch_beta / ranks_per_group a power of two) so that results do not depend on the rank count");
  L.group_size = static_cast<int>(per_group);
  L.group_count = L.world_size / L.group_size;
  L.group_index = L.world_rank / L.group_size;
  L.group_rank = L.world_rank % L.group_size;
  MPI_Comm_split(world, L.group_index, L.group_rank, &L.group);
  L.local_count = batch / per_group;
  L.local_begin = L.group_rank * L.local_count;
  const std::vector<TrainingJob> all = training_jobs(deck);
  for (std::size_t j = 0; j < all.size(); ++j)
    if (static_cast<int>(j % L.group_count) == L.group_index) L.jobs.push_back(all[j]);
  return L;
}

void collective_check(MPI_Comm comm, const std::function<void()>& check) {
  std::string error;
  try {
    check();
  } catch (const std::exception& e) {
    error = *e.what() ? e.what() : "unknown error";
  }
  int rank = 0, first = 0;
  MPI_Comm_rank(comm, &rank);
  const int mine = error.empty() ? INT_MAX : rank;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == INT_MAX) return;
  int length = static_cast<int>(error.size());
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  error.resize(static_cast<std::size_t>(length));
  MPI_Bcast(error.data(), length, MPI_CHAR, first, comm);
  throw std::runtime_error(error);
}

void free_group_layout(GroupLayout& layout) {
  if (layout.group != MPI_COMM_NULL) MPI_Comm_free(&layout.group);
}

GroupReducer::GroupReducer(const GroupLayout& layout, std::int64_t length)
    : comm_(layout.group), size_(layout.group_size), rank_(layout.group_rank) {
  if (size_ == 1) return;
  slice_ = (length + size_ - 1) / size_;
  for (int r = 0; r < size_; ++r) {
    const std::int64_t begin = std::min<std::int64_t>(r * slice_, length);
    offsets_.push_back(static_cast<int>(begin));
    counts_.push_back(static_cast<int>(std::min<std::int64_t>(begin + slice_, length) - begin));
  }
  received_counts_.assign(size_, counts_[rank_]);
  for (int r = 0; r < size_; ++r) received_offsets_.push_back(static_cast<int>(r * slice_));
  received_ = decltype(received_)("hnet::reducer::received", size_, slice_);
  if (staged) staging_ = decltype(staging_)("hnet::reducer::staging", length);
}

std::size_t GroupReducer::bytes(int ranks, std::int64_t length) {
  if (ranks <= 1) return 0;
  const std::size_t slice = static_cast<std::size_t>((length + ranks - 1) / ranks);
  return sizeof(float) * (static_cast<std::size_t>(ranks) * slice + (staged ? static_cast<std::size_t>(length) : 0));
}

void GroupReducer::allreduce(const View1<float>& gradient) {
  if (size_ == 1) return;
  ExecSpace exec;
  exec.fence();
  if (staged) Kokkos::deep_copy(staging_, gradient);
  float* full = staged ? staging_.data() : gradient.data();
  MPI_Alltoallv(full, counts_.data(), offsets_.data(), MPI_FLOAT, received_.data(), received_counts_.data(),
                received_offsets_.data(), MPI_FLOAT, comm_);
  const auto received = received_;
  float* mine = full + offsets_[rank_];
  const int ranks = size_;
  Kokkos::parallel_for(
      "hnet::group_reduce", Kokkos::RangePolicy<StageSpace>(StageSpace(), 0, counts_[rank_]),
      KOKKOS_LAMBDA(const std::int64_t i) {
        kernels::PairwiseSum<float> sum;
        for (int r = 0; r < ranks; ++r) sum.add(received(r, i));
        mine[i] = sum.total();
      });
  StageSpace().fence();
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, full, counts_.data(), offsets_.data(), MPI_FLOAT, comm_);
  if (staged) Kokkos::deep_copy(gradient, staging_);
}

}  // namespace hnet
