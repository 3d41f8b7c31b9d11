// Error types shared by every library. The CLI maps them to exit codes:
// InputError -> 2 (bad usage or bad input), anything else -> 1 (internal error).
#pragma once

#include <stdexcept>
#include <string>

namespace heatvit {

/// Bad input from the user: a config, model file, mask file or CLI option that is
/// wrong. `where` names the file (or option) and `field` the field, line or key.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& where, const std::string& field, const std::string& what);
  explicit InputError(const std::string& message);
  const std::string& where() const { return where_; }
  const std::string& field() const { return field_; }

 private:
  std::string where_;
  std::string field_;
};

/// A broken invariant inside the simulator itself (exit status 1).
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& what) : std::logic_error(what) {}
};

/// Throws InternalError with file/line when `cond` is false. For invariants only,
/// never for validating input.
#define HEATVIT_CHECK(cond, msg)                                                     \
  do {                                                                               \
    if (!(cond))                                                                     \
      throw ::heatvit::InternalError(std::string(__FILE__) + ":" +                   \
                                     std::to_string(__LINE__) + ": " + (msg));       \
  } while (0)

}  // namespace heatvit
