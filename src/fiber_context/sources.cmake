# Sources of this layer (see src/CMakeLists.txt).
target_sources(cospace_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/lifetime.cpp
  ${CMAKE_CURRENT_LIST_DIR}/switch.cpp)
