#include "util/field_table.h"

#include "util/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace headcount {

static std::string format_number(double v) {
  auto s = fmt::format("{}", v);
  return s;
}

void FieldTable::add_integer(const std::string& key, int64_t& value, const std::string& doc) {
  fields_.push_back({key, "integer", doc, [&value] { return std::to_string(value); },
                     [&value](const std::string& text) {
                       char* end = nullptr;
                       errno = 0;
                       long long v = std::strtoll(text.c_str(), &end, 10);
                       if (text.empty() || *end != '\0' || errno == ERANGE)
                         throw std::invalid_argument(fmt::format("expected an integer, got '{}'", text));
                       value = v;
                     }});
}

void FieldTable::add_number(const std::string& key, double& value, const std::string& doc) {
  fields_.push_back({key, "number", doc, [&value] { return format_number(value); },
                     [&value](const std::string& text) {
                       char* end = nullptr;
                       double v = std::strtod(text.c_str(), &end);
                       if (text.empty() || *end != '\0' || !std::isfinite(v))
                         throw std::invalid_argument(fmt::format("expected a finite number, got '{}'", text));
                       value = v;
                     }});
}

void FieldTable::add_boolean(const std::string& key, bool& value, const std::string& doc) {
  fields_.push_back({key, "boolean", doc, [&value] { return std::string(value ? "true" : "false"); },
                     [&value](const std::string& text) {
                       if (text == "true" || text == "yes" || text == "on") value = true;
                       else if (text == "false" || text == "no" || text == "off") value = false;
                       else throw std::invalid_argument(fmt::format("expected true or false, got '{}'", text));
                     }});
}

void FieldTable::add_string(const std::string& key, std::string& value, const std::string& doc) {
  fields_.push_back({key, "string", doc, [&value] { return value; }, [&value](const std::string& text) { value = text; }});
}

void FieldTable::add_string_list(const std::string& key, std::string& value, const std::string& doc) {
  fields_.push_back({key, "string list", doc, [&value] { return value; }, [&value](const std::string& text) {
                       for (const auto& item : split_list(text))
                         if (item.empty()) throw std::invalid_argument(fmt::format("expected names separated by commas, got '{}'", text));
                       value = text;
                     }});
}

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  if (value.empty()) return out;
  for (size_t start = 0;;) {
    const size_t comma = value.find(',', start);
    out.push_back(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

void FieldTable::add_choice(const std::string& key, std::vector<std::string> choices, std::function<std::string()> get,
                            std::function<void(const std::string&)> set, const std::string& doc) {
  std::string type = "one of: ";
  for (size_t i = 0; i < choices.size(); ++i) type += (i ? ", " : "") + choices[i];
  fields_.push_back({key, type, doc, std::move(get), std::move(set)});
}

const Field* FieldTable::find(const std::string& key) const {
  for (const auto& f : fields_)
    if (f.key == key) return &f;
  return nullptr;
}

std::string FieldTable::suggestion(const std::string& key) const {
  const Field* best = nullptr;
  size_t best_distance = key.size() / 2 + 2;
  for (const auto& f : fields_) {
    const size_t d = static_cast<size_t>(edit_distance(key, f.key));
    if (d < best_distance) best = &f, best_distance = d;
  }
  return best ? best->key : std::string();
}

}  // namespace headcount
