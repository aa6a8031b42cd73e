# The git hash is taken at configure time (below: re-run when git moves); a build from a tarball
# reports "unknown".
execute_process(COMMAND git describe --always --dirty --abbrev=12
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  OUTPUT_VARIABLE HNET_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET RESULT_VARIABLE _hnet_git_rc)
if(NOT _hnet_git_rc EQUAL 0 OR HNET_GIT_HASH STREQUAL "")
  set(HNET_GIT_HASH "unknown")
endif()
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/src/hnet/version_config.hpp.in
               ${CMAKE_BINARY_DIR}/generated/hnet/version_config.hpp @ONLY)
# A commit, checkout or `git add` re-runs this configure step, so that the hash a binary reports
# (`hnet --version`, the provenance of its results files) is the one of the source it was built from.
execute_process(COMMAND git rev-parse --git-path HEAD --git-path index
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  OUTPUT_VARIABLE _hnet_git_files OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git symbolic-ref -q HEAD
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  OUTPUT_VARIABLE _hnet_git_branch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(_hnet_git_branch)
  execute_process(COMMAND git rev-parse --git-path ${_hnet_git_branch}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE _hnet_git_ref OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  string(APPEND _hnet_git_files "\n${_hnet_git_ref}")
endif()
string(REPLACE "\n" ";" _hnet_git_files "${_hnet_git_files}")
foreach(_file IN LISTS _hnet_git_files)
  if(NOT IS_ABSOLUTE "${_file}")
    set(_file "${CMAKE_CURRENT_SOURCE_DIR}/${_file}")
  endif()
  if(EXISTS "${_file}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_file}")
  endif()
endforeach()
