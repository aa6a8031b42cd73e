# The Python that runs scripts/report.py, the test helpers and the Python-driven tests: one that
# imports h5py and matplotlib (numpy comes with both). -DPython3_EXECUTABLE=... chooses it; by
# default the first python3 on PATH that has them. The first python3 on PATH is not always it:
# Debian's python3-h5py and python3-matplotlib import only in Debian's own interpreter, and a
# pyenv or conda python3 ahead of it on PATH would pass FindPython3 and fail every report.
set(_hnet_python_modules "h5py, matplotlib")

function(_hnet_python_has_modules python result)
  execute_process(COMMAND "${python}" -c "import ${_hnet_python_modules}"
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(${result} TRUE PARENT_SCOPE)
  else()
    set(${result} FALSE PARENT_SCOPE)
  endif()
endfunction()

if(NOT Python3_EXECUTABLE)
  # PATH order, every python3 it holds; a shim that cannot import the modules is passed over.
  string(REPLACE ":" ";" _hnet_path "$ENV{PATH}")
  foreach(dir IN LISTS _hnet_path)
    if(dir AND EXISTS "${dir}/python3" AND NOT IS_DIRECTORY "${dir}/python3")
      _hnet_python_has_modules("${dir}/python3" _hnet_ok)
      if(_hnet_ok)
        set(Python3_EXECUTABLE "${dir}/python3" CACHE FILEPATH
            "Python 3 with ${_hnet_python_modules}: reports and Python-driven tests")
        break()
      endif()
    endif()
  endforeach()
endif()

find_package(Python3 COMPONENTS Interpreter)
set(HNET_PYTHON_OK FALSE)
if(Python3_Interpreter_FOUND)
  _hnet_python_has_modules("${Python3_EXECUTABLE}" HNET_PYTHON_OK)
endif()
if(HNET_PYTHON_OK)
  message(STATUS "hnet: Python ${Python3_VERSION} with ${_hnet_python_modules}: ${Python3_EXECUTABLE}")
else()
  set(_hnet_python_problem "no Python 3 that imports ${_hnet_python_modules} (found: '${Python3_EXECUTABLE}')")
  set(_hnet_python_hint "${_hnet_setup_hint}, or pass -DPython3_EXECUTABLE=/path/to/python3")
  if(HNET_BUILD_TESTS)
    message(FATAL_ERROR "hnet: ${_hnet_python_problem}; the tests need one. ${_hnet_python_hint}")
  endif()
  message(WARNING "hnet: ${_hnet_python_problem}; scripts/report.py needs one. ${_hnet_python_hint}")
endif()

# build/bin/hnet-python runs that interpreter, so scripts given a build directory
# (scripts/pipeline.sh, scripts/run_studies.sh, the Slurm test) use the same one.
if(Python3_EXECUTABLE)
  file(CONFIGURE OUTPUT ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/hnet-python
       CONTENT "#!/bin/sh\n# The Python CMake chose for hnet (-DPython3_EXECUTABLE).\nexec \"@Python3_EXECUTABLE@\" \"$@\"\n"
       @ONLY)
  file(CHMOD ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/hnet-python
       PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endif()
