// A table of named configuration fields bound to the members of a typed struct.
//
// Every key of the configuration is registered once, with its type, default and a line
// of documentation; YAML loading, `--set key=value`, the resolved config written into each
// run folder, checkpoints and docs/config.md all go through this one table.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace headcount {

struct Field {
  std::string key;   // dotted, e.g. "model.encoder.heads"
  std::string type;  // "integer", "number", "boolean", "string", "string list" or "one of: a, b"
  std::string doc;
  std::function<std::string()> get;
  // Throws std::invalid_argument with "expected ..., got ..." on a bad value.
  std::function<void(const std::string&)> set;
};

// The items of a string-list field's value ("a,b" -> {"a", "b"}; "" -> {}).
std::vector<std::string> split_list(const std::string& value);

class FieldTable {
 public:
  void add_integer(const std::string& key, int64_t& value, const std::string& doc);
  void add_number(const std::string& key, double& value, const std::string& doc);
  void add_boolean(const std::string& key, bool& value, const std::string& doc);
  void add_string(const std::string& key, std::string& value, const std::string& doc);
  // One or several strings (file names), held comma-separated: a YAML list, or
  // `--set key=a,b`. Type "string list"; split them with split_list.
  void add_string_list(const std::string& key, std::string& value, const std::string& doc);
  // An enum: get/set convert between the typed value and its name.
  void add_choice(const std::string& key, std::vector<std::string> choices, std::function<std::string()> get,
                  std::function<void(const std::string&)> set, const std::string& doc);
  // An enum with to_string(Enum) and a parse function that throws std::invalid_argument.
  template <typename Enum>
  void add_enum(const std::string& key, Enum& value, const std::vector<Enum>& values,
                Enum (*parse)(const std::string&), const std::string& doc) {
    std::vector<std::string> names;
    for (auto v : values) names.push_back(to_string(v));
    add_choice(
        key, names, [&value] { return to_string(value); }, [&value, parse](const std::string& s) { value = parse(s); },
        doc);
  }

  const std::vector<Field>& fields() const { return fields_; }
  // nullptr when the key is unknown.
  const Field* find(const std::string& key) const;
  // Known keys closest to an unknown one, for "did you mean" hints.
  std::string suggestion(const std::string& key) const;

 private:
  std::vector<Field> fields_;
};

}  // namespace headcount
