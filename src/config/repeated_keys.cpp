#include "config/repeated_keys.h"

#include <fmt/format.h>

#include <map>

#include "config/run_config.h"

namespace headcount {

namespace {

void check(const YAML::Node& node, const std::string& path, const std::string& prefix) {
  if (node.IsSequence()) {
    for (const auto& item : node) check(item, path, prefix);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& item : node) {
    const std::string name = item.first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const int line = item.first.Mark().line + 1;
    const auto [seen, fresh] = first_line.emplace(name, line);
    if (!fresh)
      throw ConfigError(fmt::format("{}:{}: key '{}' is given twice (first at line {})", path, line, key, seen->second));
    check(item.second, path, key);
  }
}

}  // namespace

void refuse_repeated_keys(const YAML::Node& node, const std::string& path) { check(node, path, ""); }

}  // namespace headcount
