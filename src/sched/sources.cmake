# Sources of this layer (see src/CMakeLists.txt): the scheduler, channels,
# fiber-blocking synchronisation and sockets (docs/scheduler.md).
target_sources(cospace_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/scheduler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/record_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/io.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync.cpp
  ${CMAKE_CURRENT_LIST_DIR}/channel.cpp
  ${CMAKE_CURRENT_LIST_DIR}/lock.cpp)
