// `headcount export`: a trained run's model in formats other tools read (docs/export.md).
//
//   safetensors  model.safetensors (every parameter and buffer under headcount's own names),
//                config.json (the model config, typed, and the residual scheme with its
//                per-sub-layer weights), the run's vocabularies and sentencepiece models.
//                Any model; python/headcount_model.py rebuilds it in PyTorch.
//   hf           the same folder as transformers' BERT (export/bert_form.h) where the
//                model has an exact BERT form; refused with the reason where it has none.
//
// The folder is written under a temporary name beside --out and renamed into place once
// complete, so a failed export leaves nothing; an --out that holds files is refused.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model_config.h"
#include "run/run_folder.h"

namespace headcount {

enum class ExportFormat { Safetensors, HuggingFace };
std::string to_string(ExportFormat format);
ExportFormat parse_export_format(const std::string& name);  // throws std::invalid_argument naming the choices

struct ExportRequest {
  std::string run_dir;
  std::string out_dir;
  CheckpointChoice checkpoint = CheckpointChoice::Best;
  ExportFormat format = ExportFormat::Safetensors;
  torch::ScalarType dtype = torch::kFloat;  // of the weights in model.safetensors (hf: float32 only)
};

struct ExportResult {
  std::string checkpoint;  // the file exported
  int64_t update = 0;      // the update it was saved at
  bool run_finished = false;
  std::vector<std::string> files;  // written into out_dir, by name
};

// Throws std::runtime_error (files: which and what is wrong) or std::invalid_argument (a
// model without the format's form: why) before anything is written at out_dir. log gets
// one line on what was exported, and a note when the run has not finished.
ExportResult export_run(const ExportRequest& request, std::ostream& log);

// The model config as typed, nested JSON ({"d_model": 128, "encoder": {"layers": 3, ...}}),
// as config.json holds it.
nlohmann::ordered_json typed_model_config(const ModelConfig& config);

}  // namespace headcount
