# `hnet train` at 1 and 2 OpenMP threads must write the same θ and optimizer state, bit for bit:
# the whole step (hypernetwork, P(β) = P₀ + Uφ through Kokkos Kernels' batched GEMM, the
# generated networks, Adam), not one kernel. On a GPU build the thread count does not reach the
# kernels, and the runs check that the device's results repeat.
set(dir ${WORK_DIR}/train_thread_counts)
file(REMOVE_RECURSE ${dir})
foreach(threads IN ITEMS 1 2)
  set(ENV{OMP_NUM_THREADS} ${threads})
  set(ENV{OMP_PROC_BIND} false)
  execute_process(COMMAND ${HNET} train ${DECK} --set train.steps=3 --set "sweep.steps=[]"
                          --set "output.dir=\"${dir}/t${threads}\""
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "hnet train at ${threads} threads failed (${rc}): ${out}${err}")
  endif()
endforeach()
# θ from the results file, Adam's moments from the checkpoint: the same bits at 1 and 2 threads.
foreach(pair IN ITEMS "seed0.h5:/theta" "checkpoints/seed0.h5:/optimizer/adam_m" "checkpoints/seed0.h5:/optimizer/adam_v")
  string(REPLACE ":" ";" parts "${pair}")
  list(GET parts 0 file)
  list(GET parts 1 object)
  execute_process(COMMAND ${H5DIFF} -r ${dir}/t1/${file} ${dir}/t2/${file} ${object} ${object}
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
  string(SUBSTRING "${out}" 0 2000 head)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${object} after 3 steps differs between 1 and 2 threads (h5diff ${rc}):\n${head}${err}")
  endif()
endforeach()
message(STATUS "θ and Adam's moments after 3 steps: identical at 1 and 2 threads")
