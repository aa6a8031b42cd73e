// Reading the deck once and handing it to every rank.
#pragma once

// hnet uses MPI's C API only. Without these, OpenMPI's (and MPICH's) deprecated C++
// bindings are compiled into every C++ file and need libmpi_cxx at link time.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <string>
#include <vector>

#include "hnet/deck.hpp"

namespace hnet {

// Collective over `comm`. Rank 0 reads `path` and applies `overrides`; the other ranks
// never touch the file (it may exist on rank 0's file system only) and their `overrides`
// are ignored. Every rank returns the same deck, bit for bit, or every rank throws
// DeckError with the same message, so a bad deck stops all ranks instead of leaving
// some waiting in a collective.
Deck load_deck_broadcast(const std::string& path, const std::vector<std::string>& overrides, MPI_Comm comm);

}  // namespace hnet
