# `hnet draw` and scripts/report.py on synthetic sweep files (tests/make_fake_sweep.py), so the
# pictures and the report are tested without training anything.
# -DPART=draw: drawings and their errors; -DPART=report: the report, on a rich and a sparse sweep.
# Needs HNET, PYTHON (the Python CMake found, with h5py, numpy, matplotlib), SOURCE_DIR, WORK_DIR.
set(dir ${WORK_DIR}/${PART}_fake_sweep)
file(REMOVE_RECURSE ${dir})
file(MAKE_DIRECTORY ${dir})

function(run)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${dir} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(require_file path)
  if(NOT EXISTS ${path})
    message(FATAL_ERROR "missing ${path}")
  endif()
endfunction()

function(require_text haystack needle where)
  string(FIND "${haystack}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${where} lacks '${needle}':\n${haystack}")
  endif()
endfunction()

# The stored deck is a real resolved deck, as hnet sweep would store it.
execute_process(COMMAND ${HNET} deck ${SOURCE_DIR}/inputs/quick.toml --set target.n=8 --set sweep.sizes=[4,12]
                        --set sweep.generation_seeds=2 --set sweep.beta_points=9
                OUTPUT_FILE ${dir}/deck.toml RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hnet deck failed (${rc})")
endif()
set(make_sweep ${PYTHON} ${SOURCE_DIR}/tests/make_fake_sweep.py --hnet ${HNET})
run(${make_sweep} ${dir}/sweep.h5 --deck ${dir}/deck.toml --job-file ${dir}/job.h5)

if(PART STREQUAL "draw")
  run(${HNET} draw ${dir}/sweep.h5 --beta 1e-6)
  message(STATUS "${out}")
  if(NOT out MATCHES "drew beta=1e-06 log10_beta=-6.0000 step=1000 seed=0 n=8 posterior=sample job=seed0 class=double-sided normalised_loss=[-+0-9.e]+ kl_bits=[-+0-9.e]+ record=[0-9]+ files=")
    message(FATAL_ERROR "unexpected output: ${out}")
  endif()
  set(prefix ${dir}/drawings/beta1e-06_seed0_n8)
  foreach(ext IN ITEMS dot svg png)
    require_file(${prefix}.${ext})
  endforeach()
  file(READ ${prefix}.svg svg)
  require_text("${svg}" "<svg" "${prefix}.svg")
  file(READ ${prefix}.dot dot)
  require_text("${dot}" "// Omitted:" "${prefix}.dot")
  require_text("${dot}" "class: double-sided" "${prefix}.dot")

  # A generalisation size, the posterior mean, fdp and an explicit prefix; the nearest β is drawn.
  run(${HNET} draw ${dir}/sweep.h5 --beta 2e-3 --n 12 --mean --layout fdp --output ${dir}/other/pudding)
  if(NOT out MATCHES "log10_beta=-3.0000 step=1000 seed=0 n=12 posterior=mean")
    message(FATAL_ERROR "unexpected output: ${out}")
  endif()
  foreach(ext IN ITEMS dot svg png)
    require_file(${dir}/other/pudding.${ext})
  endforeach()
  run(${HNET} draw ${dir}/sweep.h5 --beta 1e-3 --step 100 --seed 1)
  require_file(${dir}/drawings/beta0.001_seed1_n8_step100.png)

  # Bad requests fail and say what the file holds.
  foreach(bad IN ITEMS "--beta;1e9" "--beta;1e-3;--seed;7" "--beta;1e-3;--n;5" "--beta;1e-3;--n;12;--step;100")
    execute_process(COMMAND ${HNET} draw ${dir}/sweep.h5 ${bad} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(rc EQUAL 0)
      message(FATAL_ERROR "hnet draw ${bad} should fail:\n${out}")
    endif()
    require_text("${err}" "log10(beta): -7 to 1 (9 values" "hnet draw ${bad}")
    require_text("${err}" "steps at n = 8: 100, 1000" "hnet draw ${bad}")
  endforeach()
  foreach(file IN ITEMS ${dir}/absent.h5 ${dir}/deck.toml ${dir}/job.h5)
    execute_process(COMMAND ${HNET} draw ${file} --beta 1e-3 OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(rc EQUAL 0 OR NOT err MATCHES "no such file|not an HDF5 file|not an hnet sweep file")
      message(FATAL_ERROR "hnet draw ${file} should fail clearly (${rc}):\n${out}${err}")
    endif()
  endforeach()
elseif(PART STREQUAL "report")
  run(${HNET} draw ${dir}/sweep.h5 --beta 1e-6)
  run(${PYTHON} ${SOURCE_DIR}/scripts/report.py ${dir}/sweep.h5 --training ${dir}/job.h5)
  message(STATUS "${out}")
  foreach(png IN ITEMS loss_kl_vs_beta phase_diagram order_parameters generalisation training_curve)
    require_file(${dir}/${png}.png)
  endforeach()
  file(READ ${dir}/report.md report)
  foreach(needle IN ITEMS "| log₁₀β | β | norm. loss (sample) |" "## Classes found" "## Generalisation"
                          "hnet train fake.toml" "(drawings/beta1e-06_seed0_n8.png)" "(phase_diagram.png)"
                          "The β-ordering **holds**" "| 12 | 18 |")
    require_text("${report}" "${needle}" "report.md")
  endforeach()

  string(FIND "${report}" "## Per training seed" per_seed)
  if(NOT per_seed EQUAL -1)
    message(FATAL_ERROR "a one-job report has a per-training-seed section:\n${report}")
  endif()

  # Two training jobs: each gets its own column and its own β-ordering verdict.
  file(MAKE_DIRECTORY ${dir}/two_jobs)
  run(${make_sweep} ${dir}/two_jobs/sweep.h5 --jobs 2 --sizes=)
  run(${PYTHON} ${SOURCE_DIR}/scripts/report.py ${dir}/two_jobs/sweep.h5 --out ${dir}/two_jobs/report)
  file(READ ${dir}/two_jobs/report/report.md report)
  foreach(needle IN ITEMS "## Per training seed" "| log₁₀β | seed0 | seed1 |" "- seed0: The β-ordering"
                          "- seed1: The β-ordering")
    require_text("${report}" "${needle}" "two-job report.md")
  endforeach()

  # A sparse sweep: one step, one seed, no other sizes, no posterior mean, convexity only.
  file(MAKE_DIRECTORY ${dir}/sparse)
  run(${make_sweep} ${dir}/sparse/sweep.h5 --steps 500 --seeds 1 --sizes= --no-mean --classes convexity)
  run(${PYTHON} ${SOURCE_DIR}/scripts/report.py ${dir}/sparse/sweep.h5 --out ${dir}/sparse/report)
  foreach(png IN ITEMS loss_kl_vs_beta phase_diagram order_parameters generalisation)
    require_file(${dir}/sparse/report/${png}.png)
  endforeach()
  file(READ ${dir}/sparse/report/report.md report)
  foreach(needle IN ITEMS "## Classes found" "**double-sided did NOT appear**" "**pudding did NOT appear**"
                          "cannot be judged" "No generalisation sizes")
    require_text("${report}" "${needle}" "sparse report.md")
  endforeach()
  string(FIND "${report}" "- double-sided:" invented)
  if(NOT invented EQUAL -1)
    message(FATAL_ERROR "the sparse report lists a class that is not in the file:\n${report}")
  endif()

  # Seed statistics: a two-job sweep with all three phases, and the convexity-only sparse sweep.
  file(MAKE_DIRECTORY ${dir}/seed_statistics)
  run(${make_sweep} ${dir}/seed_statistics/sweep.h5 --jobs 2 --sizes 4,24)
  run(${PYTHON} ${SOURCE_DIR}/scripts/seed_statistics.py ${dir}/seed_statistics/sweep.h5
      --markdown ${dir}/seed_statistics/table.md)
  foreach(needle IN ITEMS "| seed_statistics | seed0 |" "| seed_statistics | seed1 |" "n′=24 / n, structured"
                          "structured low β: 2 of 2 seeds; double-sided → pudding → convexity: 2 of 2 seeds")
    require_text("${out}" "${needle}" "seed_statistics.py on two jobs")
  endforeach()
  require_file(${dir}/seed_statistics/table.md)
  run(${PYTHON} ${SOURCE_DIR}/scripts/seed_statistics.py ${dir}/sparse/sweep.h5)
  require_text("${out}" "structured low β: 0 of 1 seeds; double-sided → pudding → convexity: 0 of 1 seeds"
               "seed_statistics.py on a convexity-only sweep")

  # Coverage by input index at every size (scripts/transfer_coverage.py) on the same two-job sweep.
  run(${PYTHON} ${SOURCE_DIR}/scripts/transfer_coverage.py ${dir}/seed_statistics/sweep.h5 --max-log10-beta -3)
  foreach(needle IN ITEMS "seed0 | 24 |" "seed1 | 4 |" "same input as at n")
    require_text("${out}" "${needle}" "transfer_coverage.py on two jobs")
  endforeach()
  run(${PYTHON} ${SOURCE_DIR}/scripts/transfer_refit.py ${dir}/seed_statistics/sweep.h5 --inputs 256)
  foreach(needle IN ITEMS "seed0 | 24 |" "seed1 | 4 |" "scale and b1 refitted")
    require_text("${out}" "${needle}" "transfer_refit.py on two jobs")
  endforeach()

  # The class at the lowest β at every evaluated step (scripts/class_timeline.py): the two-job sweep
  # holds steps 100 and 1000.
  run(${PYTHON} ${SOURCE_DIR}/scripts/class_timeline.py ${dir}/seed_statistics/sweep.h5)
  foreach(needle IN ITEMS "| job | step 100 | step 1000 |" "| seed0 | " "| seed1 | " "log10 β = -7.00")
    require_text("${out}" "${needle}" "class_timeline.py on two jobs")
  endforeach()

  # The objective each seed reaches per β and the lowest (scripts/objective_envelope.py), two files.
  run(${PYTHON} ${SOURCE_DIR}/scripts/objective_envelope.py ${dir}/seed_statistics/sweep.h5
      ${dir}/sparse/sweep.h5 --first-seed 11)
  foreach(needle IN ITEMS "| seed 11 | seed 12 | seed 13 | lowest J |" "| -7.00 | -3.49 doub | -3.60 doub | -0.16 conv | seed 12: double-sided |")
    require_text("${out}" "${needle}" "objective_envelope.py on two files")
  endforeach()

  execute_process(COMMAND ${PYTHON} ${SOURCE_DIR}/scripts/report.py ${dir}/deck.toml
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(rc EQUAL 0 OR NOT err MATCHES "not an HDF5 file")
    message(FATAL_ERROR "report.py on a text file should fail clearly (${rc}):\n${out}${err}")
  endif()
else()
  message(FATAL_ERROR "PART must be draw or report, not '${PART}'")
endif()
