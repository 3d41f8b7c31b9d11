#include "heatvit/core/error.hpp"

namespace heatvit {

namespace {
std::string compose(const std::string& where, const std::string& field, const std::string& what) {
  std::string m = where;
  if (!field.empty()) m += ": field '" + field + "'";
  if (!what.empty()) m += ": " + what;
  return m;
}
}  // namespace

InputError::InputError(const std::string& where, const std::string& field, const std::string& what)
    : std::runtime_error(compose(where, field, what)), where_(where), field_(field) {}

InputError::InputError(const std::string& message) : std::runtime_error(message) {}

}  // namespace heatvit
