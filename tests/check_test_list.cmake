# Every test ctest knows must be a real test: GoogleTest names are Suite.Case (optionally
# parameterised), script tests start with "hnet_". Kokkos' start-up warnings once slipped into
# the discovered list as "tests" that always passed.
execute_process(COMMAND ${CMAKE_CTEST_COMMAND} -N WORKING_DIRECTORY ${BUILD_DIR} OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ctest -N failed")
endif()
string(REGEX MATCHALL "Test +#[0-9]+: [^\n]*" tests "${listing}")
list(LENGTH tests count)
if(count LESS 30)
  message(FATAL_ERROR "only ${count} tests discovered; expected at least 30")
endif()
foreach(line IN LISTS tests)
  string(REGEX REPLACE "Test +#[0-9]+: " "" name "${line}")
  # Parameterised GoogleTest cases carry a "  # GetParam() = ..." note.
  string(REGEX REPLACE "  # GetParam\\(\\) = .*$" "" name "${name}")
  if(NOT name MATCHES "^([A-Za-z0-9_/]+\\.[A-Za-z0-9_/]+|hnet_[a-z0-9_]+)$")
    message(FATAL_ERROR "suspicious test name discovered: '${name}'")
  endif()
endforeach()
message(STATUS "${count} tests, all with well-formed names")
