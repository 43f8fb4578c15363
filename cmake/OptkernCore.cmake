# optkern::core, the C++ kernels (usable without Python or CUDA), and its SIMD levels.
#
# Sources: the top-level files of cpp/src/ are process-wide services (thread count, interrupts,
# build info, the choice of SIMD level), compiled once; the kernels in cpp/src/<area>/ are
# compiled once per SIMD level.
#
# OPTKERN_ARCH:
#   dispatch (default)  on x86-64 Linux with GCC or Clang and GNU binutils: the kernels for
#                       x86-64-v2 (baseline), x86-64-v3 (avx2) and x86-64-v4 (avx512), the best
#                       one chosen when the library is loaded (cmake/OptkernSimdLink.cmake);
#                       elsewhere (aarch64, macOS, MSVC) one level for the compiler's default
#                       target, so no x86 instruction leaks into those builds;
#   native              one level for the build machine (-march=native), for local source builds;
#   <any -march value>  one level for that target, e.g. x86-64-v3;
#   "" (empty)          one level for the compiler's default target.
file(GLOB OPTKERN_SERVICE_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/cpp/src/*.cpp")
file(GLOB_RECURSE OPTKERN_KERNEL_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/cpp/src/*/*.cpp")

# Compile settings shared by the library and the per-level kernel objects.
function(optkern_core_settings target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  target_include_directories(${target} PUBLIC
    "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cpp/include>"
    "$<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated/include>"
    "$<INSTALL_INTERFACE:${OPTKERN_INSTALL_INCLUDEDIR}>")
  target_include_directories(${target} PRIVATE "${PROJECT_SOURCE_DIR}/cpp/src")
  target_link_libraries(${target} PUBLIC Eigen3::Eigen OpenMP::OpenMP_CXX)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # Contracting a*b+c into one FMA is what the matmul micro-kernels are written for; ISO C++
  # mode would otherwise switch contraction off in GCC.
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-ffp-contract=fast -Wall -Wextra>)
endfunction()

include(CheckCXXCompilerFlag)
set(OPTKERN_SIMD_LEVELS "")        # several levels, dispatched at load time
set(OPTKERN_SINGLE_MARCH "")       # or one level: the compiler's default target ...
set(OPTKERN_SINGLE_NAME "default")  # ... or -march=<OPTKERN_ARCH>
if(OPTKERN_ARCH STREQUAL "dispatch")
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$" AND UNIX AND NOT APPLE
     AND CMAKE_CXX_COMPILER_ID MATCHES "^(GNU|Clang)$" AND CMAKE_LINKER AND CMAKE_NM
     AND CMAKE_OBJCOPY)
    foreach(pair "baseline;x86-64-v2" "avx2;x86-64-v3" "avx512;x86-64-v4")
      list(GET pair 0 level)
      list(GET pair 1 march)
      string(MAKE_C_IDENTIFIER "OPTKERN_HAS_MARCH_${march}" flag_var)
      check_cxx_compiler_flag("-march=${march}" ${flag_var})
      if(${flag_var})
        list(APPEND OPTKERN_SIMD_LEVELS ${level})
        set(OPTKERN_MARCH_${level} ${march})
      endif()
    endforeach()
  endif()
  list(LENGTH OPTKERN_SIMD_LEVELS _optkern_level_count)
  if(_optkern_level_count LESS 2)
    set(OPTKERN_SIMD_LEVELS "")
  endif()
elseif(OPTKERN_ARCH)
  check_cxx_compiler_flag("-march=${OPTKERN_ARCH}" OPTKERN_HAS_MARCH)
  if(OPTKERN_HAS_MARCH)
    set(OPTKERN_SINGLE_MARCH "${OPTKERN_ARCH}")
    set(OPTKERN_SINGLE_NAME "${OPTKERN_ARCH}")
  else()
    message(WARNING "optkern: the compiler does not accept -march=${OPTKERN_ARCH}; using its default")
  endif()
endif()

if(OPTKERN_SIMD_LEVELS)
  message(STATUS "optkern: SIMD levels ${OPTKERN_SIMD_LEVELS}, chosen at load time")
  set(_gen "${PROJECT_BINARY_DIR}/simd")
  file(MAKE_DIRECTORY "${_gen}")
  set(_outputs "${_gen}/simd_trampolines.cpp")
  set(_script_args "")
  set(_depends "")
  foreach(level ${OPTKERN_SIMD_LEVELS})
    add_library(optkern_kernels_${level} OBJECT ${OPTKERN_KERNEL_SOURCES})
    optkern_core_settings(optkern_kernels_${level})
    # -fno-gnu-unique: GCC would give static locals of inline functions the GNU "unique"
    # binding, which objcopy cannot make local; plain weak symbols it can.
    target_compile_options(optkern_kernels_${level} PRIVATE "-march=${OPTKERN_MARCH_${level}}"
      $<$<CXX_COMPILER_ID:GNU>:-fno-gnu-unique>)
    file(GENERATE OUTPUT "${_gen}/objects_${level}.txt"
         CONTENT "$<JOIN:$<TARGET_OBJECTS:optkern_kernels_${level}>,\n>\n")
    list(APPEND _outputs "${_gen}/kernels_${level}.o")
    list(APPEND _script_args "-DOBJECT_LIST_${level}=${_gen}/objects_${level}.txt")
    list(APPEND _depends optkern_kernels_${level} "$<TARGET_OBJECTS:optkern_kernels_${level}>")
  endforeach()
  string(REPLACE ";" "," _levels_arg "${OPTKERN_SIMD_LEVELS}")
  add_custom_command(
    OUTPUT ${_outputs}
    COMMAND "${CMAKE_COMMAND}" "-DLEVELS=${_levels_arg}" "-DOUT_DIR=${_gen}"
            "-DLINKER=${CMAKE_LINKER}" "-DNM=${CMAKE_NM}" "-DOBJCOPY=${CMAKE_OBJCOPY}"
            ${_script_args} -P "${PROJECT_SOURCE_DIR}/cmake/OptkernSimdLink.cmake"
    DEPENDS ${_depends} "${PROJECT_SOURCE_DIR}/cmake/OptkernSimdLink.cmake"
    COMMENT "optkern: linking the SIMD levels ${OPTKERN_SIMD_LEVELS} and their trampolines"
    VERBATIM)
  list(REMOVE_ITEM _outputs "${_gen}/simd_trampolines.cpp")
  set_source_files_properties(${_outputs} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
  add_library(optkern_core STATIC ${OPTKERN_SERVICE_SOURCES} "${_gen}/simd_trampolines.cpp"
                                  ${_outputs})
  target_compile_definitions(optkern_core PRIVATE OPTKERN_SIMD_DISPATCH=1)
else()
  message(STATUS "optkern: one SIMD level, ${OPTKERN_SINGLE_NAME}")
  add_library(optkern_core STATIC ${OPTKERN_SERVICE_SOURCES} ${OPTKERN_KERNEL_SOURCES})
  if(OPTKERN_SINGLE_MARCH)
    target_compile_options(optkern_core PRIVATE "-march=${OPTKERN_SINGLE_MARCH}")
  endif()
  target_compile_definitions(optkern_core PRIVATE
    "OPTKERN_SIMD_SINGLE=\"${OPTKERN_SINGLE_NAME}\"")
endif()
add_library(optkern::core ALIAS optkern_core)
set_target_properties(optkern_core PROPERTIES EXPORT_NAME core OUTPUT_NAME optkern_core)
optkern_core_settings(optkern_core)
