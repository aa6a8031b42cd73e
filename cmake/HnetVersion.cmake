# The git hash is taken at configure time; a build from a tarball reports "unknown".
execute_process(COMMAND git describe --always --dirty --abbrev=12
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  OUTPUT_VARIABLE HNET_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET RESULT_VARIABLE _hnet_git_rc)
if(NOT _hnet_git_rc EQUAL 0 OR HNET_GIT_HASH STREQUAL "")
  set(HNET_GIT_HASH "unknown")
endif()
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/src/hnet/version_config.hpp.in
               ${CMAKE_BINARY_DIR}/generated/hnet/version_config.hpp @ONLY)
