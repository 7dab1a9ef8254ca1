# Sources of this layer (see src/CMakeLists.txt).
target_sources(cospace_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/c_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/residency.cpp
  ${CMAKE_CURRENT_LIST_DIR}/slice_jump.cpp
  ${CMAKE_CURRENT_LIST_DIR}/thread_slicing.cpp)
