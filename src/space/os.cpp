#include "os.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cospace::detail {
namespace {

void* real_mmap(void* address, std::size_t length, int protection, int flags, int fd, long offset) {
  return ::mmap(address, length, protection, flags, fd, offset);
}

const os_calls real_calls{&real_mmap, &::munmap, &::madvise, &::mprotect};
os_calls current_calls = real_calls;

}  // namespace

const os_calls& os() noexcept { return current_calls; }

os_calls replace_os_calls(const os_calls& calls) noexcept {
  os_calls previous = current_calls;
  current_calls = calls;
  return previous;
}

const os_calls& real_os_calls() noexcept { return real_calls; }

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::string describe_failure(const char* call, void* address, std::size_t length, int error) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, "%s of %zu bytes at %p failed: %s", call, length, address,
                std::strerror(error));
  return buffer;
}

}  // namespace cospace::detail
