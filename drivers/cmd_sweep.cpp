// hnet sweep DECK [--set ...]: generate, evaluate and classify networks of trained runs.
#include <cstdio>

#include "commands.hpp"
#include "hnet/deck.hpp"
#include "hnet/deck_mpi.hpp"
#include "hnet/sweep.hpp"
#include "hnet/sweep_records.hpp"

namespace hnet::driver {

Command add_sweep_command(CLI::App& app) {
  struct Options {
    std::string deck_file;
    std::vector<std::string> overrides;
    SweepOptions sweep;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "Generate networks of trained runs over the beta grid, seeds, saved steps and sizes; classify them");
  sub->add_option("deck", o->deck_file, "TOML input deck of the trained run")->required();
  add_overrides_option(sub, o->overrides);
  sub->add_option("--output", o->sweep.output, "HDF5 file to write (default: <output.dir>/sweep.h5)");
  sub->add_option("--record", o->sweep.commands, "A command to record in the file for the report (repeatable)");
  sub->add_flag("--quiet", o->sweep.quiet, "No progress lines");
  sub->add_flag_callback(
      "--list-fields",
      [] {
        if (is_root(MPI_COMM_WORLD))
          for (int k = 0; k < record_field_count; ++k)
            std::printf("%s\t%s\t%s\n", record_field(k).name, record_field(k).integer ? "int64" : "float64",
                        record_field(k).meaning);
        throw CLI::Success();
      },
      "Print the columns of the records table the sweep file holds (name, type, meaning) and exit");
  return {sub, [o](MPI_Comm comm) {
            const Deck deck = load_deck_broadcast(o->deck_file, o->overrides, comm);
            std::string self = "hnet sweep " + o->deck_file;
            for (const std::string& s : o->overrides) self += " --set " + s;
            o->sweep.commands.push_back(self);
            const SweepSummary s = run_sweep(deck, o->sweep, comm);
            if (is_root(comm)) {
              std::printf("sweep: %lld networks in %.1f s -> %s\n", static_cast<long long>(s.networks), s.seconds,
                          s.path.c_str());
              std::fflush(stdout);
            }
            return 0;
          }};
}

}  // namespace hnet::driver
