#include "model/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "model/model_fields.h"
#include "util/durable_file.h"

namespace headcount {

nlohmann::json model_config_to_json(const ModelConfig& config_in) {
  ModelConfig config = config_in;
  FieldTable table;
  describe_model_fields(config, table, "model");
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : table.fields()) out[f.key] = f.get();
  return out;
}

ModelConfig model_config_from_json(const nlohmann::json& json) {
  ModelConfig config;
  FieldTable table;
  describe_model_fields(config, table, "model");
  // Keys that came after the first checkpoints were written keep their defaults there.
  const std::set<std::string> added_later{"model.head", "model.classes", "model.embedding_norm"};
  for (const auto& f : table.fields()) {
    if (!json.contains(f.key)) {
      if (added_later.count(f.key)) continue;
      throw std::invalid_argument(fmt::format("checkpoint lacks model key '{}'", f.key));
    }
    f.set(json.at(f.key).get<std::string>());
  }
  return config;
}

void save_checkpoint(Transformer& model, const std::string& path, const nlohmann::json& extra,
                     const std::function<void(torch::serialize::OutputArchive&)>& write_more, bool keep_previous) {
  torch::serialize::OutputArchive archive;
  archive.write("headcount.model_config", c10::IValue(model_config_to_json(model->config()).dump()));
  archive.write("headcount.extra", c10::IValue(extra.dump()));
  model->save(archive);
  if (write_more) write_more(archive);
  // Through our own file: LibTorch's file writer ends the process when a write fails.
  write_durably(path, [&](const ByteSink& sink) { archive.save_to(sink); }, keep_previous);
}

// Weights a model of this config holds at least (attention and FFN matrices, embeddings),
// in double so that a corrupt header's huge sizes cannot overflow.
static double least_parameters(const ModelConfig& c) {
  const double d = static_cast<double>(c.d_model);
  auto stack = [&](const StackConfig& s) {
    const double attention = 4.0 * d * static_cast<double>(s.heads) * static_cast<double>(s.resolved_head_dim(c.d_model));
    return static_cast<double>(s.layers) * (attention + 2.0 * d * static_cast<double>(s.ffn_dim));
  };
  double n = 0;
  if (c.has_encoder()) n += stack(c.encoder) + d * static_cast<double>(c.source_vocab_size);
  if (c.has_decoder()) n += stack(c.decoder) + d * static_cast<double>(c.target_vocab_size);
  return n;
}

ModelConfig checkpoint_model_config(const std::string& config_text, uintmax_t file_bytes, const std::string& path) {
  ModelConfig config;
  try {
    const auto json = nlohmann::json::parse(config_text);
    if (!json.is_object()) throw std::invalid_argument("not a JSON object");
    config = model_config_from_json(json);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        fmt::format("{}: its model config is not readable ({})", path, std::string(e.what()).substr(0, 300)));
  }
  const auto problems = config.problems(/*check_vocabulary=*/true);
  if (!problems.empty())
    throw std::runtime_error(fmt::format("{}: its model config is not sound: {}", path, fmt::join(problems, "; ")));
  // Two bytes a weight at the least (bf16), whatever precision wrote it.
  if (least_parameters(config) * 2.0 > static_cast<double>(file_bytes))
    throw std::runtime_error(fmt::format("{}: its model config asks for {:.3g} weights, more than its {} bytes hold", path,
                                         least_parameters(config), file_bytes));
  return config;
}

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(fmt::format("{}: no such checkpoint", path));
  auto archive_pointer = std::make_shared<torch::serialize::InputArchive>();
  auto& archive = *archive_pointer;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(fmt::format("{}: not a readable checkpoint ({})", path, e.what_without_backtrace()));
  }
  c10::IValue config_text, extra_text;
  if (!archive.try_read("headcount.model_config", config_text) || !archive.try_read("headcount.extra", extra_text))
    throw std::runtime_error(fmt::format("{}: not a headcount checkpoint (no model config inside)", path));
  if (!config_text.isString() || !extra_text.isString())
    throw std::runtime_error(fmt::format("{}: not a headcount checkpoint (its header is not text)", path));
  LoadedCheckpoint loaded;
  loaded.model = Transformer(checkpoint_model_config(config_text.toStringRef(), std::filesystem::file_size(path), path));
  try {
    loaded.model->load(archive);
    loaded.extra = nlohmann::json::parse(extra_text.toStringRef());
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: its weights do not fit its model config ({})", path,
                                         std::string(e.what()).substr(0, 300)));
  }
  loaded.model->to(device);
  loaded.archive = archive_pointer;
  return loaded;
}

void copy_encoder_weights(const Transformer& from, Transformer& to) {
  const auto a = model_config_to_json(from->config()), b = model_config_to_json(to->config());
  for (const auto& [key, value] : a.items()) {
    const bool encoder_key = key.rfind("model.encoder.", 0) == 0 ||
                             std::set<std::string>{"model.architecture", "model.d_model", "model.activation",
                                                   "model.learned_positions", "model.embedding_norm", "model.max_positions", "model.residual",
                                                   "model.source_vocab_size"}
                                 .count(key);
    if (encoder_key && b.at(key) != value)
      throw std::invalid_argument(fmt::format("{}: the pretrained model has {}, this one {}", key,
                                              value.get<std::string>(), b.at(key).get<std::string>()));
  }
  auto is_encoder_part = [](const std::string& name) {
    for (const char* prefix :
         {"source_embedding.", "source_embedding_norm.", "learned_positions.", "encoder.", "sinusoidal_positions"})
      if (name.rfind(prefix, 0) == 0) return true;
    return false;
  };
  torch::NoGradGuard no_grad;
  const auto source_parameters = from->named_parameters(), source_buffers = from->named_buffers();
  for (auto& item : to->named_parameters())
    if (is_encoder_part(item.key())) item.value().copy_(source_parameters[item.key()]);
  for (auto& item : to->named_buffers())
    if (is_encoder_part(item.key())) item.value().copy_(source_buffers[item.key()]);
}

void average_checkpoints(const std::vector<std::string>& paths, const std::string& output) {
  if (paths.empty()) throw std::invalid_argument("average_checkpoints needs at least one checkpoint");
  auto first = load_checkpoint(paths[0]);
  torch::NoGradGuard no_grad;
  auto sum_parameters = first.model->named_parameters();
  auto sum_buffers = first.model->named_buffers();
  for (size_t i = 1; i < paths.size(); ++i) {
    auto other = load_checkpoint(paths[i]);
    if (model_config_to_json(other.model->config()) != model_config_to_json(first.model->config()))
      throw std::invalid_argument(fmt::format("{}: a different model than {}; cannot average", paths[i], paths[0]));
    auto parameters = other.model->named_parameters();
    for (auto& item : sum_parameters) item.value().add_(parameters[item.key()]);
    auto buffers = other.model->named_buffers();
    for (auto& item : sum_buffers)
      if (item.value().is_floating_point()) item.value().add_(buffers[item.key()]);
  }
  const double n = static_cast<double>(paths.size());
  for (auto& item : sum_parameters) item.value().div_(n);
  for (auto& item : sum_buffers)
    if (item.value().is_floating_point()) item.value().div_(n);
  save_checkpoint(first.model, output, first.extra);
}

}  // namespace headcount
