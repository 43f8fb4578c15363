# `cmake --install` gives a prefix that other CMake projects use with find_package(optkern);
# a wheel carries the same package inside site-packages/optkern (OPTKERN_INSTALL_*DIR).
include(CMakePackageConfigHelpers)
set(OPTKERN_CMAKE_DIR "${OPTKERN_INSTALL_LIBDIR}/cmake/optkern")

# A wheel carries optkern::core only: its CUDA kernels are in the Python module, and a static
# CUDA library for every architecture would double the wheel.
set(_optkern_targets optkern_core)
set(OPTKERN_INSTALLS_CUDA OFF)
if(OPTKERN_WITH_CUDA AND NOT SKBUILD)
  set(OPTKERN_INSTALLS_CUDA ON)
  list(APPEND _optkern_targets optkern_cuda)
  install(DIRECTORY cuda/include/optkern DESTINATION "${OPTKERN_INSTALL_INCLUDEDIR}" COMPONENT cpp)
endif()
install(TARGETS ${_optkern_targets} EXPORT optkernTargets
  ARCHIVE DESTINATION "${OPTKERN_INSTALL_LIBDIR}" COMPONENT cpp
  LIBRARY DESTINATION "${OPTKERN_INSTALL_LIBDIR}" COMPONENT cpp)
install(DIRECTORY cpp/include/optkern DESTINATION "${OPTKERN_INSTALL_INCLUDEDIR}" COMPONENT cpp)
install(FILES "${PROJECT_BINARY_DIR}/generated/include/optkern/config.hpp"
  DESTINATION "${OPTKERN_INSTALL_INCLUDEDIR}/optkern" COMPONENT cpp)
install(EXPORT optkernTargets NAMESPACE optkern:: DESTINATION "${OPTKERN_CMAKE_DIR}" COMPONENT cpp)

configure_package_config_file(cmake/optkernConfig.cmake.in
  "${PROJECT_BINARY_DIR}/optkernConfig.cmake" INSTALL_DESTINATION "${OPTKERN_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/optkernConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/optkernConfig.cmake"
  "${PROJECT_BINARY_DIR}/optkernConfigVersion.cmake"
  DESTINATION "${OPTKERN_CMAKE_DIR}" COMPONENT cpp)
