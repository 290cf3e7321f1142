// Saving and loading a model: one file holding the model config (as JSON) and every
// parameter and buffer, Admin's profiled w included. Writes go to a temporary file that
// is renamed into place, so a crash never leaves a half-written checkpoint.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model/transformer.h"

namespace headcount {

nlohmann::json model_config_to_json(const ModelConfig& config);
// Throws std::invalid_argument naming the missing or bad key.
ModelConfig model_config_from_json(const nlohmann::json& json);

// extra: any JSON the caller wants kept with the weights (training state, say).
void save_checkpoint(Transformer& model, const std::string& path, const nlohmann::json& extra = {});
struct LoadedCheckpoint {
  Transformer model{nullptr};
  nlohmann::json extra;
};
LoadedCheckpoint load_checkpoint(const std::string& path);

}  // namespace headcount
