// How a region's stack is kept inside its bounds, in each protection_mode.
//
// A stack region, top to bottom:
//
//   hi  +----------------------+
//       | colour (< 1 page)    |  top = hi - colour: stack tops vary by 64-byte steps
//   top |----------------------|
//       | usable stack         |  touched pages are resident; grows down
//  zone_hi ....................|
//       | guard zone           |  faults: growth, or overflow (the fault handler decides)
//  zone_lo ....................|
//       | free part            |  not resident; split off for new regions and arenas,
//   lo  +----------------------+  or reached by this stack when it grows
//
// Every function returns 0 or the errno of the system call that failed; none
// allocates, so move_zone is safe in the SIGSEGV handler.
#pragma once

#include <cospace/space.hpp>

#include <cstdint>

namespace cospace::detail {

// Probes the reservation's best mode: guard_install if madvise(MADV_GUARD_INSTALL)
// really guards a page (checked by having the kernel touch a guarded page: qemu-user
// returns 0 for any advice and installs nothing), else mprotect.
protection_mode probe_guard_mode() noexcept;

// Makes a fresh region's stack [zone_hi, hi) usable and installs [zone_lo, zone_hi).
int prepare_stack(protection_mode mode, std::uintptr_t zone_lo, std::uintptr_t zone_hi,
                  std::uintptr_t hi) noexcept;

// Moves the zone from [old_lo, old_hi) down to [new_lo, new_hi) (new_hi <= old_hi):
// the stack may now use [new_hi, old_hi) too.
int grow_zone(protection_mode mode, std::uintptr_t old_lo, std::uintptr_t old_hi,
              std::uintptr_t new_lo, std::uintptr_t new_hi) noexcept;

// Moves the zone up from [old_lo, old_hi) to [new_lo, new_hi) (new_lo >= old_hi),
// handing the pages between back to the kernel.
int shrink_zone(protection_mode mode, std::uintptr_t old_lo, std::uintptr_t old_hi,
                std::uintptr_t new_lo, std::uintptr_t new_hi) noexcept;

// Removes the zone [zone_lo, zone_hi) and hands [zone_hi, hi) back to the kernel:
// afterwards the whole range is plain free space again.
int release_stack(protection_mode mode, std::uintptr_t zone_lo, std::uintptr_t zone_hi,
                  std::uintptr_t hi) noexcept;

// Arenas have no zone: make [lo, hi) usable / hand it back.
int prepare_plain(protection_mode mode, std::uintptr_t lo, std::uintptr_t hi) noexcept;
int release_plain(protection_mode mode, std::uintptr_t lo, std::uintptr_t hi) noexcept;

}  // namespace cospace::detail
