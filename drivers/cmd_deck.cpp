// hnet deck FILE [--set section.key=value ...]: print the fully resolved deck.
#include <iostream>

#include "commands.hpp"
#include "hnet/deck.hpp"
#include "hnet/deck_mpi.hpp"

namespace hnet::driver {

Command add_deck_command(CLI::App& app) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
    bool reference = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("deck", "Print the fully resolved input deck (every key, with defaults)");
  sub->add_option("file", options->file, "TOML input deck (omit for the defaults)");
  add_overrides_option(sub, options->overrides);
  sub->add_flag("--reference", options->reference, "Print the deck reference (Markdown) instead");
  return {sub, [options](MPI_Comm comm) {
            if (options->reference) {
              if (is_root(comm)) std::cout << deck_reference_markdown();
              return 0;
            }
            const Deck deck = options->file.empty()
                                  ? parse_deck("", "<defaults>", options->overrides)
                                  : load_deck_broadcast(options->file, options->overrides, comm);
            if (is_root(comm)) std::cout << to_toml(deck);
            return 0;
          }};
}

}  // namespace hnet::driver
