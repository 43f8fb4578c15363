# Eigen 3.4 and OpenMP for optkern::core.
#
# Eigen is looked for in this order: -DEigen3_DIR / CMAKE_PREFIX_PATH / the system (libeigen3-dev),
# then the cmeel-eigen wheel that pip installs as a build requirement. cmeel keeps its CMake
# packages under <site-packages>/cmeel.prefix, which `python -m cmeel cmake` prints.
find_package(Eigen3 3.4...<6 CONFIG QUIET)
if(NOT Eigen3_FOUND)
  find_package(Python COMPONENTS Interpreter QUIET)
  if(Python_Interpreter_FOUND)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -m cmeel cmake
      OUTPUT_VARIABLE _optkern_cmeel_prefix
      OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _optkern_cmeel_rc
      ERROR_QUIET)
    if(_optkern_cmeel_rc EQUAL 0 AND _optkern_cmeel_prefix)
      list(APPEND CMAKE_PREFIX_PATH "${_optkern_cmeel_prefix}")
    endif()
  endif()
  find_package(Eigen3 3.4...<6 CONFIG QUIET)
endif()
if(NOT Eigen3_FOUND)
  message(FATAL_ERROR
    "optkern needs Eigen 3.4. Install it with `apt install libeigen3-dev` or "
    "`pip install cmeel-eigen`, or pass -DEigen3_DIR=<dir holding Eigen3Config.cmake>.")
endif()
message(STATUS "optkern: Eigen ${Eigen3_VERSION} from ${Eigen3_DIR}")

find_package(OpenMP REQUIRED COMPONENTS CXX)
