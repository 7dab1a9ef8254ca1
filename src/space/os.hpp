// The system calls the space makes, behind one seam so that tests can refuse
// any of them (fault injection) and check that every failure is reported, not
// a crash. Production code calls os().mmap(...) etc.; nothing else in
// src/space calls these functions directly.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <string>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

namespace cospace::detail {

struct os_calls {
  void* (*mmap)(void* address, std::size_t length, int protection, int flags, int fd, long offset);
  int (*munmap)(void* address, std::size_t length);
  int (*madvise)(void* address, std::size_t length, int advice);
  int (*mprotect)(void* address, std::size_t length, int protection);
};

// The calls in force (the real ones unless a test replaced them).
const os_calls& os() noexcept;
// Replaces the calls (tests only); returns the previous set.
os_calls replace_os_calls(const os_calls& calls) noexcept;
// The real system calls.
const os_calls& real_os_calls() noexcept;

std::size_t page_size() noexcept;

// "madvise(MADV_GUARD_INSTALL) of 64 KiB at 0x...: Cannot allocate memory"
std::string describe_failure(const char* call, void* address, std::size_t length, int error);

}  // namespace cospace::detail
