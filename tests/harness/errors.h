// Error-path checks: the message of the rd::Error a call throws.
#pragma once
#include <functional>
#include <string>

#include "common/error.h"

namespace rd::testing {

// What `f` throws as rd::Error, or "no error" when it returns normally.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const rd::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace rd::testing
