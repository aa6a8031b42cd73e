# Thin wrapper: set-up script, CMake presets, ctest. The README's two commands are
# `make run` and `make test`.
PRESET ?= openmp
# The Kokkos backend of the preset: cuda and hip build against a Kokkos with that backend.
gpu_preset := $(filter cuda hip,$(PRESET))
HNET_DEPS_PREFIX ?= $(HOME)/.cache/hnet/kokkos-3.4.1-$(or $(gpu_preset),openmp)
DECK ?= inputs/phase_diagram_n16.toml
JOBS ?= $(shell nproc)

build_dir_openmp := build
build_dir_serial := build-serial
build_dir_debug := build-debug
BUILD_DIR ?= $(or $(build_dir_$(PRESET)),build-$(PRESET))

# Threads unbound, as libgomp does by default (spread binding halved GEMM speed on 2 cores).
export OMP_PROC_BIND ?= false

# What scripts/setup.sh installs: `make run` what building and running need; `make test` adds
# what only tests need (Slurm for the slurm tests); PRESET=cuda or hip adds nvcc or hipcc and
# builds Kokkos with that backend (`setup.sh run cuda`). The target-specific value reaches
# `setup` through build and configure.
SETUP_FOR ?= run
test: SETUP_FOR = test
setup_purposes = $(SETUP_FOR)$(if $(gpu_preset), $(gpu_preset))

# Every preset builds against the set-up's Kokkos in HNET_DEPS_PREFIX, except cuda and hip when
# Kokkos_ROOT is set (your own Kokkos, from the environment or the make command line): then
# nothing is installed and the preset finds Kokkos there.
ifneq ($(and $(gpu_preset),$(Kokkos_ROOT)),)
  KOKKOS_FLAGS :=
  SETUP :=
else ifneq ($(filter openmp serial debug cuda hip,$(PRESET)),)
  KOKKOS_FLAGS := -DKokkos_ROOT=$(HNET_DEPS_PREFIX) -DKokkosKernels_ROOT=$(HNET_DEPS_PREFIX)
  SETUP := setup
endif

.PHONY: all setup configure build run test bench clean
all: build

setup:
	HNET_DEPS_PREFIX='$(HNET_DEPS_PREFIX)' bash scripts/setup.sh $(setup_purposes)

configure: $(SETUP)
	cmake --preset $(PRESET) $(KOKKOS_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	bash scripts/pipeline.sh $(DECK) $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 1

bench: build
	$(BUILD_DIR)/bin/hnet_bench_kernels

clean:
	rm -rf $(BUILD_DIR)
