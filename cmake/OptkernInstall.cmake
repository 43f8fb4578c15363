# `cmake --install` gives a prefix that other CMake projects use with find_package(optkern).
include(CMakePackageConfigHelpers)
set(OPTKERN_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/optkern")

set(_optkern_targets optkern_core)
if(OPTKERN_WITH_CUDA)
  list(APPEND _optkern_targets optkern_cuda)
  install(DIRECTORY cuda/include/optkern DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT cpp)
endif()
install(TARGETS ${_optkern_targets} EXPORT optkernTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT cpp
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT cpp)
install(DIRECTORY cpp/include/optkern DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT cpp)
install(FILES "${PROJECT_BINARY_DIR}/generated/include/optkern/config.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/optkern" COMPONENT cpp)
install(EXPORT optkernTargets NAMESPACE optkern:: DESTINATION "${OPTKERN_CMAKE_DIR}" COMPONENT cpp)

configure_package_config_file(cmake/optkernConfig.cmake.in
  "${PROJECT_BINARY_DIR}/optkernConfig.cmake" INSTALL_DESTINATION "${OPTKERN_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/optkernConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/optkernConfig.cmake"
  "${PROJECT_BINARY_DIR}/optkernConfigVersion.cmake"
  DESTINATION "${OPTKERN_CMAKE_DIR}" COMPONENT cpp)
