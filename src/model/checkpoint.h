// Saving and loading a model: one file holding the model config (as JSON) and every
// parameter and buffer, Admin's profiled w included. Writes go to a temporary file that
// is flushed and renamed into place, so a crash never leaves a half-written checkpoint.
#pragma once

#include <nlohmann/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/transformer.h"

namespace headcount {

nlohmann::json model_config_to_json(const ModelConfig& config);
// Throws std::invalid_argument naming the missing or bad key.
ModelConfig model_config_from_json(const nlohmann::json& json);

// extra: any JSON the caller wants kept with the weights (training state, say);
// write_more: anything else for the same archive (optimizer moments, random state);
// keep_previous: the checkpoint that was at path becomes previous_path(path)
// (util/durable_file.h), for a resume to fall back on. The file is flushed to the disk
// before it replaces the old one; a failed write (a full disk) throws and keeps the old.
void save_checkpoint(Transformer& model, const std::string& path, const nlohmann::json& extra = {},
                     const std::function<void(torch::serialize::OutputArchive&)>& write_more = {},
                     bool keep_previous = false);
struct LoadedCheckpoint {
  Transformer model{nullptr};
  nlohmann::json extra;
  std::shared_ptr<torch::serialize::InputArchive> archive;  // to read what write_more wrote
};
// The model is built on the CPU and moved to device.
// The model config a checkpoint stores (its JSON text), checked before any tensor is made:
// readable, sound (ModelConfig::problems), and no larger than a file of file_bytes could
// hold, so a corrupt header never asks for terabytes. Throws std::runtime_error naming path.
ModelConfig checkpoint_model_config(const std::string& config_text, uintmax_t file_bytes, const std::string& path);
LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device = torch::kCPU);

// Copies the encoder of a trained model (embeddings, positions, the encoder stack with
// Admin's w) into another whose encoder is built the same: a classifier fine-tuned from a
// masked-LM pretraining run. Throws std::invalid_argument naming the first key in which the
// two encoders differ.
void copy_encoder_weights(const Transformer& from, Transformer& to);

// Element-wise mean of the parameters and buffers of several checkpoints of one model
// (fairseq's average_checkpoints), saved as a checkpoint of its own with the first's extra.
void average_checkpoints(const std::vector<std::string>& paths, const std::string& output);

}  // namespace headcount
