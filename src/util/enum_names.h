// The spelling of an enum's values in configs and messages, as one table per enum:
//   constexpr NamedValue<Activation> kActivations[] = {{Activation::Relu, "relu"}, ...};
//   std::string to_string(Activation a) { return name_of(kActivations, a); }
//   Activation parse_activation(const std::string& s) { return parse_named(kActivations, s, "activation"); }
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace headcount {

template <typename Enum>
struct NamedValue {
  Enum value;
  const char* name;
};

template <typename Enum, size_t N>
std::string name_of(const NamedValue<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table)
    if (entry.value == value) return entry.name;
  return "?";
}

// Throws std::invalid_argument: "unknown <what> '<name>': expected one of a, b, c".
template <typename Enum, size_t N>
Enum parse_named(const NamedValue<Enum> (&table)[N], const std::string& name, const char* what) {
  std::string names;
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw std::invalid_argument(fmt::format("unknown {} '{}': expected one of {}", what, name, names));
}

// Every value of the table, in its order.
template <typename Enum, size_t N>
std::vector<Enum> values_of(const NamedValue<Enum> (&table)[N]) {
  std::vector<Enum> out;
  for (const auto& entry : table) out.push_back(entry.value);
  return out;
}

}  // namespace headcount
