# Provides GTest::gtest and GTest::gtest_main.
# Native builds use Debian's libgtest-dev; cross builds (and
# COSPACE_GTEST_FROM_SOURCE=ON) compile Debian's googletest sources for the target.
option(COSPACE_GTEST_FROM_SOURCE "Build GoogleTest from /usr/src/googletest" ${CMAKE_CROSSCOMPILING})
set(COSPACE_GTEST_SOURCE_DIR "/usr/src/googletest" CACHE PATH "GoogleTest sources (Debian: googletest)")

if(COSPACE_GTEST_FROM_SOURCE)
  if(NOT EXISTS "${COSPACE_GTEST_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR
      "GoogleTest sources not found in ${COSPACE_GTEST_SOURCE_DIR}: "
      "install Debian's package 'googletest' (apt-get install googletest)")
  endif()
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory("${COSPACE_GTEST_SOURCE_DIR}" "${CMAKE_BINARY_DIR}/_googletest" EXCLUDE_FROM_ALL SYSTEM)
  # Recent GoogleTest releases (Debian 12 ships 1.12) define these aliases themselves.
  if(NOT TARGET GTest::gtest)
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
else()
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    message(FATAL_ERROR
      "GoogleTest not found: install Debian's package 'libgtest-dev' "
      "(apt-get install libgtest-dev), or 'googletest' and configure with -DCOSPACE_GTEST_FROM_SOURCE=ON")
  endif()
endif()
include(GoogleTest)
