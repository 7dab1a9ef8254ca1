// Decoding for x86_64_fault_resume.cpp: which x86-64 instructions store at
// the stack pointer they moved (see valgrind_push_correction in
// fault_handler.hpp). Plain byte decoding, compiled on every architecture so
// that its test (tests/space/space_test.cpp) runs on all of them.
#include <cstddef>
#include <cstdint>

#include "fault_handler.hpp"

namespace cospace::detail {

std::size_t valgrind_push_correction(const unsigned char* code, std::uintptr_t stack_pointer,
                                     std::uintptr_t address) noexcept {
  if (address != stack_pointer) return 0;
  std::size_t i = 0;
  while (i < 3 && (code[i] == 0x3E || code[i] == 0xF2)) ++i;  // notrack, bnd
  if ((code[i] & 0xF0) == 0x40) ++i;                           // REX (push r8-r15)
  const unsigned char op = code[i];
  // call rel32; push r64; push imm32; push imm8; pushfq
  if (op == 0xE8 || (op >= 0x50 && op <= 0x57) || op == 0x68 || op == 0x6A || op == 0x9C) return 8;
  // FF /2 call r/m64, FF /6 push r/m64
  if (op == 0xFF) {
    const unsigned reg = (code[i + 1] >> 3) & 7u;
    if (reg == 2 || reg == 6) return 8;
  }
  return 0;
}

}  // namespace cospace::detail
