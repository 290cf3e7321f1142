// A YAML mapping that says a key twice is an error, not a silent choice: yaml-cpp keeps both
// entries (a lookup finds the first, a walk over the mapping applies both in turn), so one
// of two values a user wrote would win unseen.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace headcount {

// Throws ConfigError "PATH:LINE: key 'KEY' is given twice (first at line FIRST)" for the first
// repeated key of any mapping in node, nested mappings and mappings inside lists included;
// KEY is dotted from the top ("train.lr").
void refuse_repeated_keys(const YAML::Node& node, const std::string& path);

}  // namespace headcount
