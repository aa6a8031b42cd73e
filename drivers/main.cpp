// hnet: MPI_Init → { Kokkos::initialize … finalize; parse; run } → H5close → MPI_Finalize, so
// every View dies before Kokkos finalizes, and Kokkos and HDF5 before MPI.
#include <hdf5.h>
#include <mpi.h>

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "hnet/version.hpp"

namespace hnet::driver {
void add_overrides_option(CLI::App* sub, std::vector<std::string>& overrides) {
  sub->add_option("--set", overrides, "Override a deck key: section.key=value (repeatable)");
}

bool is_root(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank == 0;
}
}  // namespace hnet::driver

namespace {

int run(int argc, char** argv) {
  using namespace hnet::driver;
  CLI::App app{"hnet: a β-conditioned graph hypernetwork that writes interpretable L1-norm networks"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print version, git hash, Kokkos and MPI configuration");
  std::vector<Command> commands;
  CLI::App* version_cmd = app.add_subcommand("version", "Same as --version");
  auto print_version = [](MPI_Comm comm) {
    const std::string report = hnet::version_report(comm);
    if (is_root(comm)) std::cout << report << std::flush;
    return 0;
  };
  commands.push_back({version_cmd, print_version});
  commands.push_back(add_deck_command(app));
  commands.push_back(add_handbuilt_command(app));
  commands.push_back(add_generate_command(app));
  commands.push_back(add_train_command(app));
  commands.push_back(add_draw_command(app));
  commands.push_back(add_sweep_command(app));
  commands.push_back(add_fit_command(app));

  const bool root = is_root(MPI_COMM_WORLD);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (root) {
      const int code = app.exit(e);
      return code == 0 ? 0 : 2;
    }
    return e.get_exit_code() == 0 ? 0 : 2;
  }
  if (show_version) return print_version(MPI_COMM_WORLD);
  for (const Command& command : commands)
    if (command.subcommand->parsed()) return command.run(MPI_COMM_WORLD);
  if (root) std::cout << app.help();
  return 0;
}

// Kokkos 3.4 treats a bare --help (and --threads=, --device-id=, ...) as its own and prints its
// help before hnet's. Only --kokkos-* arguments are Kokkos's: it sees those alone, hnet's parser
// the rest, plus whatever --kokkos-* argument Kokkos did not recognise, so that a misspelt one is
// still reported.
struct SplitArguments {
  std::vector<char*> kokkos, app;  // each starts with argv[0] and ends with a null pointer
};

SplitArguments split_arguments(int argc, char** argv) {
  SplitArguments split;
  split.kokkos.push_back(argv[0]);
  split.app.push_back(argv[0]);
  for (int k = 1; k < argc; ++k)
    (std::strncmp(argv[k], "--kokkos-", 9) == 0 ? split.kokkos : split.app).push_back(argv[k]);
  split.kokkos.push_back(nullptr);
  split.app.push_back(nullptr);
  return split;
}

// Kokkos 3.4 starts with `--kokkos-threads=0` and then reports a concurrency of 0, and answers
// `--kokkos-threads=abc` with a bare "stoi": a thread count must be a positive integer, checked here
// as a bad command line (exit code 2) before Kokkos starts.
bool valid_thread_arguments(const SplitArguments& split) {
  static const char prefix[] = "--kokkos-threads=";
  for (const char* argument : split.kokkos) {
    if (argument == nullptr || std::strncmp(argument, prefix, sizeof prefix - 1) != 0) continue;
    const char* value = argument + sizeof prefix - 1;
    char* end = nullptr;
    const long threads = std::strtol(value, &end, 10);
    if (*value != '\0' && *end == '\0' && threads >= 1 && threads <= 1 << 20) continue;
    if (hnet::driver::is_root(MPI_COMM_WORLD))
      std::cerr << "hnet: error: " << argument << ": the thread count must be a positive integer\n";
    return false;
  }
  return true;
}

// What Kokkos left of its arguments goes to hnet's parser.
void append_unused_kokkos_arguments(SplitArguments& split, int kokkos_argc) {
  split.app.pop_back();
  for (int k = 1; k < kokkos_argc; ++k) split.app.push_back(split.kokkos[k]);
  split.app.push_back(nullptr);
}

// Kokkos::initialize throws when its backend cannot start (a CUDA or HIP build on a machine
// without that GPU, or with a driver too old): a clear message and exit code 1, not an abort.
// Some start-up failures make Kokkos abort instead (its CUDA backend on a GPU generation its
// kernels were not built for): after Kokkos' own message, say what it means and exit 1 instead of
// dumping core. The message is written before the handler can run, which then calls only write
// and _exit (async-signal-safe).
char kokkos_abort_message[512];
std::size_t kokkos_abort_message_length = 0;

extern "C" void exit_on_kokkos_start_abort(int) {
  ssize_t written = write(STDERR_FILENO, kokkos_abort_message, kokkos_abort_message_length);
  (void)written;
  _exit(1);
}

class KokkosStartAbortGuard {
 public:
  KokkosStartAbortGuard() {
    kokkos_abort_message_length = static_cast<std::size_t>(std::snprintf(
        kokkos_abort_message, sizeof kokkos_abort_message,
        "hnet: error: Kokkos stopped while starting its %s backend (its message is above); a GPU build "
        "runs on the GPU generations its kernels were built for (README, \"GPU builds\").\n",
        Kokkos::DefaultExecutionSpace::name()));
    kokkos_abort_message_length = std::min(kokkos_abort_message_length, sizeof kokkos_abort_message - 1);
    struct sigaction action {};
    action.sa_handler = exit_on_kokkos_start_abort;
    sigemptyset(&action.sa_mask);
    sigaction(SIGABRT, &action, &previous_);
  }
  ~KokkosStartAbortGuard() { sigaction(SIGABRT, &previous_, nullptr); }
  KokkosStartAbortGuard(const KokkosStartAbortGuard&) = delete;
  KokkosStartAbortGuard& operator=(const KokkosStartAbortGuard&) = delete;

 private:
  struct sigaction previous_ {};
};

bool start_kokkos(int& kokkos_argc, char** kokkos_argv) {
  const KokkosStartAbortGuard abort_guard;
  try {
    // The test of the guard (tests/CMakeLists.txt: hnet_cli_kokkos_start_abort) takes the path a
    // GPU of the wrong generation takes, on any machine.
    if (std::getenv("HNET_TEST_KOKKOS_START_ABORT") != nullptr)
      Kokkos::abort("Kokkos::abort during start-up (HNET_TEST_KOKKOS_START_ABORT)\n");
    Kokkos::initialize(kokkos_argc, kokkos_argv);
    return true;
  } catch (const std::exception& e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
      std::cerr << "hnet: error: Kokkos could not start its " << Kokkos::DefaultExecutionSpace::name()
                << " backend: " << e.what()
                << "\nThis build runs its kernels there; on a machine without that device use a build of "
                   "the openmp preset.\n";
    return false;
  }
}

struct KokkosFinalizer {
  ~KokkosFinalizer() { Kokkos::finalize(); }
};

// Kokkos' lifetime: every View of the run dies before Kokkos finalizes.
int run_with_kokkos(SplitArguments& arguments) {
  int kokkos_argc = static_cast<int>(arguments.kokkos.size()) - 1;
  if (!start_kokkos(kokkos_argc, arguments.kokkos.data())) return 1;
  const KokkosFinalizer kokkos;
  append_unused_kokkos_arguments(arguments, kokkos_argc);
  try {
    return run(static_cast<int>(arguments.app.size()) - 1, arguments.app.data());
  } catch (const std::exception& e) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) std::cerr << "[rank " << rank << "] ";
    std::cerr << "hnet: error: " << e.what() << std::endl;
    // Other ranks may be waiting in a collective: only an abort is sure to end them.
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  // libgomp's default is unbound threads; say so explicitly (OMP_PROC_BIND=spread halved GEMM
  // speed on 2-core machines) and keep Kokkos from warning about it on every start.
  setenv("OMP_PROC_BIND", "false", /*overwrite=*/0);
  SplitArguments arguments = split_arguments(argc, argv);
  const int code = valid_thread_arguments(arguments) ? run_with_kokkos(arguments) : 2;
  // Explicitly, rather than in HDF5's own exit handler after MPI is gone. Every HDF5 object is
  // closed by now (hdf5_file.hpp), also on error paths, so this has nothing left to flush.
  H5close();
  MPI_Finalize();
  return code;
}
