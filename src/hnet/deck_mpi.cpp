#include "hnet/deck_mpi.hpp"

#include <climits>
#include <cstdint>
#include <exception>

namespace hnet {

Deck load_deck_broadcast(const std::string& path, const std::vector<std::string>& overrides, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);

  // Rank 0 sends either the resolved deck (as to_toml text) or the error message.
  int64_t header[2] = {0, 0};  // {1 = deck, 0 = error; payload length}
  std::string payload;
  if (rank == 0) {
    try {
      payload = to_toml(load_deck(path, overrides));
      header[0] = 1;
    } catch (const DeckError& e) {
      payload = e.what();
    } catch (const std::exception& e) {
      // Anything else (out of memory, ...) must still reach the other ranks, or they would hang.
      payload = path + ": cannot load deck: " + e.what();
    }
    if (payload.size() > static_cast<std::size_t>(INT_MAX)) {
      payload = path + ": cannot load deck: resolved deck too large to broadcast";
      header[0] = 0;
    }
    header[1] = static_cast<int64_t>(payload.size());
  }
  MPI_Bcast(header, 2, MPI_INT64_T, 0, comm);
  payload.resize(static_cast<std::size_t>(header[1]));
  if (header[1] > 0) MPI_Bcast(payload.data(), static_cast<int>(header[1]), MPI_CHAR, 0, comm);

  if (header[0] == 0) throw DeckError(payload);
  // Every rank, rank 0 included, builds its deck from the same text, so all agree exactly.
  return parse_deck(payload, path);
}

}  // namespace hnet
