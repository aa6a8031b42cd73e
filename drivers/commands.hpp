#pragma once
// Each subcommand registers its options on the CLI11 app and returns the function that runs it.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <functional>

namespace hnet::driver {

struct Command {
  CLI::App* subcommand;
  std::function<int(MPI_Comm)> run;
};

Command add_deck_command(CLI::App& app);
Command add_handbuilt_command(CLI::App& app);
Command add_generate_command(CLI::App& app);
Command add_train_command(CLI::App& app);
Command add_draw_command(CLI::App& app);
Command add_sweep_command(CLI::App& app);
Command add_fit_command(CLI::App& app);

// Prints on rank 0 only.
bool is_root(MPI_Comm comm);

// The repeatable `--set section.key=value` option every deck-reading subcommand takes.
void add_overrides_option(CLI::App* sub, std::vector<std::string>& overrides);

}  // namespace hnet::driver
