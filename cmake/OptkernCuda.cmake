# optkern::cuda, built when nvcc is found (OPTKERN_CUDA=AUTO), always (ON) or never (OFF).
# The runtime is linked statically, so a module built here imports on a machine with no
# NVIDIA driver: cuda_available() is then False instead of an ImportError.
set(OPTKERN_WITH_CUDA OFF)
string(TOUPPER "${OPTKERN_CUDA}" _optkern_cuda_mode)
if(NOT _optkern_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "OPTKERN_CUDA must be AUTO, ON or OFF, not '${OPTKERN_CUDA}'")
endif()

if(NOT _optkern_cuda_mode STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
      # Every architecture nvcc 13 supports from Turing up, as machine code, plus PTX for the
      # newest so that later GPUs compile it at load time: T4 (75), A100 (80), RTX 30xx/A10
      # (86), L4/RTX 40xx (89), H100/H200 (90), B200 (100), RTX 50xx (120). A local build can
      # name its own GPU instead: -DCMAKE_CUDA_ARCHITECTURES=90 or CUDAARCHS=90 (CI does).
      set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90-real 100-real 120)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(OPTKERN_WITH_CUDA ON)
  elseif(_optkern_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR
      "OPTKERN_CUDA=ON but no CUDA compiler was found. Put nvcc on PATH or set CUDACXX, "
      "or configure with -DOPTKERN_CUDA=AUTO (build without CUDA when nvcc is missing).")
  else()
    message(STATUS "optkern: nvcc not found, building without CUDA")
  endif()
endif()

if(OPTKERN_WITH_CUDA)
  message(STATUS "optkern: CUDA ${CUDAToolkit_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
  file(GLOB_RECURSE OPTKERN_CUDA_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/cuda/src/*.cu")
  add_library(optkern_cuda STATIC ${OPTKERN_CUDA_SOURCES})
  add_library(optkern::cuda ALIAS optkern_cuda)
  set_target_properties(optkern_cuda PROPERTIES
    EXPORT_NAME cuda OUTPUT_NAME optkern_cuda POSITION_INDEPENDENT_CODE ON
    CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
  target_include_directories(optkern_cuda PUBLIC
    "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cuda/include>"
    "$<INSTALL_INTERFACE:${OPTKERN_INSTALL_INCLUDEDIR}>")
  target_link_libraries(optkern_cuda PUBLIC optkern_core CUDA::cudart_static)
  target_compile_options(optkern_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
endif()
