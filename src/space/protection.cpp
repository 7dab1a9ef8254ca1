#include "protection.hpp"

#include <unistd.h>

#include <cerrno>

#include "os.hpp"

namespace cospace::detail {
namespace {

void* at(std::uintptr_t address) { return reinterpret_cast<void*>(address); }

int check(int result) noexcept { return result == 0 ? 0 : errno; }

int advise(std::uintptr_t lo, std::uintptr_t hi, int advice) noexcept {
  return lo < hi ? check(os().madvise(at(lo), hi - lo, advice)) : 0;
}
int protect(std::uintptr_t lo, std::uintptr_t hi, int protection) noexcept {
  return lo < hi ? check(os().mprotect(at(lo), hi - lo, protection)) : 0;
}
// commit_on_use: replaces [lo, hi) with fresh PROT_NONE memory, which drops
// its pages and its commit charge in one call.
int decommit(std::uintptr_t lo, std::uintptr_t hi) noexcept {
  if (lo >= hi) return 0;
  void* p = os().mmap(at(lo), hi - lo, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? errno : 0;
}

constexpr int read_write = PROT_READ | PROT_WRITE;

}  // namespace

protection_mode probe_guard_mode() noexcept {
  const std::size_t page = page_size();
  const os_calls& calls = real_os_calls();
  void* scratch = calls.mmap(nullptr, 3 * page, read_write, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch == MAP_FAILED) return protection_mode::mprotect;
  auto* guarded = static_cast<char*>(scratch) + page;
  bool works = false;
  int pipe_fds[2];
  if (calls.madvise(guarded, page, MADV_GUARD_INSTALL) == 0 && pipe(pipe_fds) == 0) {
    // The kernel reads the page for write(): EFAULT proves the guard is real,
    // and the unguarded page beside it must still read fine.
    const bool guard_faults = write(pipe_fds[1], guarded, 1) < 0 && errno == EFAULT;
    const bool neighbour_reads = write(pipe_fds[1], static_cast<char*>(scratch), 1) == 1;
    works = guard_faults && neighbour_reads;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
  }
  calls.munmap(scratch, 3 * page);
  return works ? protection_mode::guard_install : protection_mode::mprotect;
}

int prepare_stack(protection_mode mode, std::uintptr_t zone_lo, std::uintptr_t zone_hi,
                  std::uintptr_t hi) noexcept {
  switch (mode) {
    case protection_mode::guard_install:
      return advise(zone_lo, zone_hi, MADV_GUARD_INSTALL);
    case protection_mode::mprotect:
      return protect(zone_lo, zone_hi, PROT_NONE);
    case protection_mode::commit_on_use:
      return protect(zone_hi, hi, read_write);  // everything else stays PROT_NONE
  }
  return EINVAL;
}

int grow_zone(protection_mode mode, std::uintptr_t old_lo, std::uintptr_t old_hi,
              std::uintptr_t new_lo, std::uintptr_t new_hi) noexcept {
  switch (mode) {
    case protection_mode::guard_install:
      if (int e = advise(old_lo, old_hi, MADV_GUARD_REMOVE)) return e;
      return advise(new_lo, new_hi, MADV_GUARD_INSTALL);
    case protection_mode::mprotect:
      if (int e = protect(old_lo, old_hi, read_write)) return e;
      return protect(new_lo, new_hi, PROT_NONE);
    case protection_mode::commit_on_use:
      return protect(new_hi, old_hi, read_write);
  }
  return EINVAL;
}

int shrink_zone(protection_mode mode, std::uintptr_t old_lo, std::uintptr_t old_hi,
                std::uintptr_t new_lo, std::uintptr_t new_hi) noexcept {
  switch (mode) {
    case protection_mode::guard_install:
      if (int e = advise(new_lo, new_hi, MADV_GUARD_INSTALL)) return e;  // zaps those pages too
      if (int e = advise(old_lo, old_hi, MADV_GUARD_REMOVE)) return e;
      return advise(old_hi, new_lo, MADV_DONTNEED);
    case protection_mode::mprotect:
      if (int e = protect(new_lo, new_hi, PROT_NONE)) return e;
      if (int e = protect(old_lo, old_hi, read_write)) return e;
      return advise(old_hi, new_lo, MADV_DONTNEED);
    case protection_mode::commit_on_use:
      return decommit(old_hi, new_hi);
  }
  return EINVAL;
}

int release_stack(protection_mode mode, std::uintptr_t zone_lo, std::uintptr_t zone_hi,
                  std::uintptr_t hi) noexcept {
  switch (mode) {
    case protection_mode::guard_install:
      if (int e = advise(zone_lo, zone_hi, MADV_GUARD_REMOVE)) return e;
      return advise(zone_hi, hi, MADV_DONTNEED);
    case protection_mode::mprotect:
      if (int e = protect(zone_lo, zone_hi, read_write)) return e;
      return advise(zone_hi, hi, MADV_DONTNEED);
    case protection_mode::commit_on_use:
      return decommit(zone_hi, hi);
  }
  return EINVAL;
}

int prepare_plain(protection_mode mode, std::uintptr_t lo, std::uintptr_t hi) noexcept {
  return mode == protection_mode::commit_on_use ? protect(lo, hi, read_write) : 0;
}

int release_plain(protection_mode mode, std::uintptr_t lo, std::uintptr_t hi) noexcept {
  return mode == protection_mode::commit_on_use ? decommit(lo, hi) : advise(lo, hi, MADV_DONTNEED);
}

}  // namespace cospace::detail
