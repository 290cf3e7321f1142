// The model's configuration keys (model.*), bound to a ModelConfig: one table for the YAML
// config, `--set`, docs/config.md and the copy of the config inside every checkpoint.
#pragma once

#include <string>

#include "model/model_config.h"
#include "util/field_table.h"

namespace headcount {

// Binds every key of config under prefix ("model") to table; keep both alive together.
void describe_model_fields(ModelConfig& config, FieldTable& table, const std::string& prefix);

}  // namespace headcount
