# Finds every dependency hnet needs and fails with a message that says how to get it.
set(_hnet_setup_hint "run 'make run' or 'bash scripts/setup.sh' (Debian 12), or install it and point CMake at it")

find_package(Kokkos REQUIRED)
find_package(KokkosKernels REQUIRED)
if(NOT TARGET Kokkos::kokkoskernels)
  message(FATAL_ERROR "Kokkos Kernels was found but exports no Kokkos::kokkoskernels target "
                      "(Debian's binary package exports trilinos_kokkoskernels): ${_hnet_setup_hint}")
endif()

if(KokkosKernels_VERSION AND Kokkos_VERSION)
  string(REGEX MATCH "^[0-9]+" _hnet_kk_major "${KokkosKernels_VERSION}")
  string(REGEX MATCH "^[0-9]+" _hnet_k_major "${Kokkos_VERSION}")
  if(NOT _hnet_kk_major STREQUAL _hnet_k_major)
    message(FATAL_ERROR "Kokkos Kernels ${KokkosKernels_VERSION} (${KokkosKernels_DIR}) does not belong to "
                        "Kokkos ${Kokkos_VERSION} (${Kokkos_DIR}): set KokkosKernels_ROOT to the Kokkos Kernels "
                        "built against that Kokkos")
  endif()
endif()

# The backend hnet's kernels run on, as Kokkos names its execution space (hnet --version), and
# whether it is a GPU: the tests' expectations follow it.
if(HNET_FORCE_SERIAL)
  set(HNET_BACKEND Serial)
elseif("CUDA" IN_LIST Kokkos_DEVICES)
  set(HNET_BACKEND Cuda)
elseif("HIP" IN_LIST Kokkos_DEVICES)
  set(HNET_BACKEND HIP)
elseif("SYCL" IN_LIST Kokkos_DEVICES)
  set(HNET_BACKEND SYCL)
elseif("OPENMP" IN_LIST Kokkos_DEVICES)
  set(HNET_BACKEND OpenMP)
elseif("THREADS" IN_LIST Kokkos_DEVICES)
  set(HNET_BACKEND Threads)
else()
  set(HNET_BACKEND Serial)
endif()
if(HNET_BACKEND MATCHES "^(Cuda|HIP|SYCL)$")
  set(HNET_BACKEND_IS_DEVICE ON)
else()
  set(HNET_BACKEND_IS_DEVICE OFF)
endif()

find_package(MPI REQUIRED COMPONENTS C)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(WARNING "HDF5 found at ${HDF5_INCLUDE_DIRS} is not parallel; hnet writes from rank 0 only in that case")
endif()
add_library(hnet_hdf5 INTERFACE)
target_include_directories(hnet_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(hnet_hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
target_compile_definitions(hnet_hdf5 INTERFACE ${HDF5_DEFINITIONS} ${HDF5_C_DEFINITIONS})

find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
if(HNET_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(HNET_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

message(STATUS "hnet: Kokkos ${Kokkos_VERSION} from ${Kokkos_DIR}")
message(STATUS "hnet: Kokkos devices: ${Kokkos_DEVICES}; hnet's kernels run on ${HNET_BACKEND}")
message(STATUS "hnet: MPI ${MPI_C_VERSION}, HDF5 ${HDF5_VERSION} (parallel: ${HDF5_IS_PARALLEL})")
