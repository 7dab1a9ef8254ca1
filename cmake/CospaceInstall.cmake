# Installs the library, its headers, a CMake package (find_package(cospace CONFIG))
# and a pkg-config file (cospace.pc).
include(CMakePackageConfigHelpers)

install(TARGETS cospace EXPORT cospaceTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cospace DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(COSPACE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cospace)
install(EXPORT cospaceTargets NAMESPACE cospace:: DESTINATION ${COSPACE_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cospaceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cospaceConfig.cmake INSTALL_DESTINATION ${COSPACE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cospaceConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cospaceConfig.cmake ${PROJECT_BINARY_DIR}/cospaceConfigVersion.cmake
  DESTINATION ${COSPACE_CMAKE_DIR})

if(NOT BUILD_SHARED_LIBS)
  set(COSPACE_PC_CFLAGS " -DCOSPACE_STATIC")
  set(COSPACE_PC_LIBS_PRIVATE "-lstdc++ -lm")
endif()
# The .pc file finds its prefix relative to itself, so an install moved with
# `cmake --install --prefix` (or DESTDIR) still works.
file(RELATIVE_PATH COSPACE_PC_TO_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
configure_file(${PROJECT_SOURCE_DIR}/cmake/cospace.pc.in ${PROJECT_BINARY_DIR}/cospace.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cospace.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
