#include "export/export_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "export/bert_form.h"
#include "export/safetensors_file.h"
#include "model/checkpoint.h"
#include "model/model_fields.h"
#include "util/durable_file.h"
#include "util/enum_names.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

constexpr NamedValue<ExportFormat> kFormatNames[] = {{ExportFormat::Safetensors, "safetensors"},
                                                    {ExportFormat::HuggingFace, "hf"}};

// Bumped when a name in model.safetensors or a key of config.json changes meaning.
constexpr int kFormatVersion = 1;

nlohmann::ordered_json residual_json(const Transformer& model) {
  const auto& traits = traits_of(model->config().residual);
  nlohmann::ordered_json out{{"scheme", traits.name},
                             {"formula", traits.formula},
                             {"normalizes_input", traits.normalizes_input},
                             {"normalizes_sum", traits.normalizes_sum},
                             {"final_norm", traits.final_norm},
                             {"weight", traits.weight == ResidualWeight::Learned    ? "learned"
                                        : traits.weight == ResidualWeight::Constant ? "constant"
                                                                                    : "none"}};
  // Per sub-layer, in forward order: the mean of w (learned; its entries are the tensor
  // ...residual.admin_scale) or alpha (constant; no tensor holds it), 1 for none.
  auto weights = [](const std::vector<Residual>& residuals) {
    std::vector<double> out;
    for (const auto& r : residuals) out.push_back(r->scale());
    return out;
  };
  if (model->encoder) out["encoder_weights"] = weights(model->encoder_residuals());
  if (model->decoder) out["decoder_weights"] = weights(model->decoder_residuals());
  return out;
}

// The files of the run a user of the exported model needs to turn text into ids and back.
std::vector<std::pair<std::string, std::string>> run_files(const RunFolder& run) {
  std::vector<std::pair<std::string, std::string>> files{{run.source_vocabulary(), "source.vocab"},
                                                         {run.target_vocabulary(), "target.vocab"},
                                                         {run.labels(), "labels.txt"},
                                                         {run.config(), "run_config.yaml"}};
  for (auto which : {PieceModel::Joint, PieceModel::Source, PieceModel::Target}) {
    const fs::path model = run.sentencepiece_model(which);
    files.emplace_back(model.string(), model.filename().string());
  }
  std::vector<std::pair<std::string, std::string>> present;
  for (auto& f : files)
    if (fs::is_regular_file(f.first)) present.push_back(f);
  return present;
}

std::vector<std::string> read_labels(const std::string& path) {
  std::vector<std::string> labels;
  std::istringstream in(read_text_file(path));
  for (std::string line; std::getline(in, line);) labels.push_back(line);
  return labels;
}

void check_out_dir(const fs::path& out) {
  std::error_code error;
  if (!fs::exists(out, error)) return;
  if (!fs::is_directory(out, error))
    throw std::runtime_error(fmt::format("--out {}: exists and is not a folder; give a new folder", out.string()));
  auto it = fs::directory_iterator(out, error);
  if (error) throw std::runtime_error(fmt::format("--out {}: cannot be read ({})", out.string(), error.message()));
  if (it != fs::directory_iterator())
    throw std::runtime_error(fmt::format("--out {}: holds files already ({} among them); export writes only into a new "
                                         "or empty folder, so nothing there is overwritten",
                                         out.string(), it->path().filename().string()));
}

// The safetensors export: every parameter and buffer under its own name (floating ones in
// dtype), and config.json's format, model, residual scheme and tied names.
struct HeadcountForm {
  std::vector<NamedTensor> tensors;
  nlohmann::ordered_json config;
};
HeadcountForm headcount_form(const Transformer& m, torch::ScalarType dtype) {
  HeadcountForm form;
  for (const auto& item : m->named_parameters()) form.tensors.emplace_back(item.key(), item.value().detach().to(dtype));
  for (const auto& item : m->named_buffers())
    form.tensors.emplace_back(item.key(), item.value().is_floating_point() ? item.value().to(dtype) : item.value());
  auto& config = form.config;
  config = {{"format", "headcount"}, {"format_version", kFormatVersion}};
  config["dtype"] = c10::toString(dtype);
  config["padding_index"] = kPaddingIndex;
  config["model"] = typed_model_config(m->config());
  config["residual"] = residual_json(m);
  // Tensors that are one: the second name is not in model.safetensors.
  nlohmann::ordered_json tied = nlohmann::ordered_json::object();
  const bool shared_tables =
      m->target_embedding && m->source_embedding && m->target_embedding->weight.is_same(m->source_embedding->weight);
  if (shared_tables) tied["target_embedding.weight"] = "source_embedding.weight";
  if (m->target_embedding && m->output_weight.is_same(m->target_embedding->weight))
    tied["output_weight"] = shared_tables ? "source_embedding.weight" : "target_embedding.weight";
  else if (m->source_embedding && m->output_weight.is_same(m->source_embedding->weight))
    tied["output_weight"] = "source_embedding.weight";
  config["tied"] = tied;
  return form;
}

}  // namespace

std::string to_string(ExportFormat format) { return name_of(kFormatNames, format); }
ExportFormat parse_export_format(const std::string& name) { return parse_named(kFormatNames, name, "export format"); }

nlohmann::ordered_json typed_model_config(const ModelConfig& config_in) {
  ModelConfig config = config_in;
  FieldTable table;
  describe_model_fields(config, table, "model");
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& f : table.fields()) {
    auto* node = &out;
    std::string key = f.key.substr(f.key.find('.') + 1);
    for (size_t dot; (dot = key.find('.')) != std::string::npos; key = key.substr(dot + 1))
      node = &(*node)[key.substr(0, dot)];
    const auto value = f.get();
    if (f.type == "integer")
      (*node)[key] = std::stoll(value);
    else if (f.type == "number")
      (*node)[key] = std::stod(value);
    else if (f.type == "boolean")
      (*node)[key] = value == "true";
    else
      (*node)[key] = value;
  }
  return out;
}

ExportResult export_run(const ExportRequest& request, std::ostream& log) {
  const RunFolder run(request.run_dir);
  if (!fs::is_directory(run.dir())) throw std::runtime_error(fmt::format("--run {}: no such folder", request.run_dir));
  ExportResult result;
  result.checkpoint = run.checkpoint(request.checkpoint);
  if (!fs::is_regular_file(result.checkpoint)) {
    const auto any = run.best_or_last_checkpoint();
    throw std::runtime_error(
        any.empty() ? fmt::format("--run {}: no checkpoint; the run has not saved one yet", request.run_dir)
                    : fmt::format("--run {}: no {} (--checkpoint {}); {} exists: choose it with --checkpoint",
                                  request.run_dir, fs::path(result.checkpoint).filename().string(),
                                  to_string(request.checkpoint), fs::path(any).filename().string()));
  }
  if (request.format == ExportFormat::HuggingFace && request.dtype != torch::kFloat)
    throw std::invalid_argument("--format hf writes float32 weights only (BERT's folded weights lose in bf16/fp16)");
  const fs::path out(request.out_dir);
  check_out_dir(out);

  auto loaded = load_checkpoint(result.checkpoint);  // throws naming the file when it is corrupt
  loaded.model->eval();
  result.update = loaded.extra.value("update", int64_t{0});
  const auto status = recorded_status(run);
  result.run_finished = status && trained_to_end(*status);
  const auto& config = loaded.model->config();
  if (request.format == ExportFormat::HuggingFace) {
    if (const auto reason = why_not_bert(config); !reason.empty())
      throw std::invalid_argument(fmt::format("--format hf: {} has no exact BERT form: {}. Export it with --format "
                                              "safetensors (python/headcount_model.py loads it in PyTorch)",
                                              request.run_dir, reason));
  }

  nlohmann::ordered_json provenance{{"run", fs::absolute(run.dir()).lexically_normal().string()},
                                    {"checkpoint", fs::path(result.checkpoint).filename().string()},
                                    {"update", result.update},
                                    {"run_finished", result.run_finished}};
  std::vector<NamedTensor> tensors;
  nlohmann::ordered_json config_json;
  if (request.format == ExportFormat::HuggingFace) {
    auto bert = to_bert(loaded.model, read_labels(run.labels()));
    tensors = std::move(bert.tensors);
    config_json = bert.config;
    config_json["headcount"] = provenance;
    config_json["headcount"]["model"] = typed_model_config(config);
  } else {
    auto form = headcount_form(loaded.model, request.dtype);
    tensors = std::move(form.tensors);
    config_json = std::move(form.config);
    config_json["headcount"] = provenance;
  }

  // Everything into a folder beside out, renamed into place once complete.
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path partial = parent / fmt::format(".{}.partial-{}", out.filename().string(), ::getpid());
  fs::remove_all(partial);
  fs::create_directories(partial);
  try {
    write_safetensors((partial / "model.safetensors").string(), tensors, {{"format", "pt"}});
    write_file_durably((partial / "config.json").string(), config_json.dump(2) + "\n");
    result.files = {"model.safetensors", "config.json"};
    for (const auto& [from, name] : run_files(run)) {
      fs::copy_file(from, partial / name);
      sync_path((partial / name).string());
      result.files.push_back(name);
    }
    sync_path(partial.string());
    std::error_code error;
    fs::remove(out, error);  // an empty folder only (check_out_dir); rename needs it gone
    fs::rename(partial, out);
    sync_path(parent.string());
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(partial, ignored);
    throw;
  }
  log << fmt::format("exported {} (update {}) as {} into {}\n", result.checkpoint, result.update,
                     to_string(request.format), out.string());
  if (!result.run_finished)
    log << fmt::format("note: the run has not finished training; this is its state at update {}\n", result.update);
  return result;
}

}  // namespace headcount
