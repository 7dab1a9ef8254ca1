// The message of the cospace::fiber_error a call throws, for tests that check
// what a misuse reports; "(no fiber_error)" when it throws none.
#pragma once

#include <cospace/fiber.hpp>

#include <string>

namespace cospace::test {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const fiber_error& e) {
    return e.what();
  }
  return "(no fiber_error)";
}

}  // namespace cospace::test
