#include "model/checkpoint.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "model/model_fields.h"

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
  const std::set<std::string> added_later{"model.head", "model.classes"};
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
                     const std::function<void(torch::serialize::OutputArchive&)>& write_more) {
  torch::serialize::OutputArchive archive;
  archive.write("headcount.model_config", c10::IValue(model_config_to_json(model->config()).dump()));
  archive.write("headcount.extra", c10::IValue(extra.dump()));
  model->save(archive);
  if (write_more) write_more(archive);
  const std::string temporary = path + ".partial";
  archive.save_to(temporary);
  std::filesystem::rename(temporary, path);
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
  LoadedCheckpoint loaded;
  loaded.model = Transformer(model_config_from_json(nlohmann::json::parse(config_text.toStringRef())));
  loaded.model->load(archive);
  loaded.model->to(device);
  loaded.extra = nlohmann::json::parse(extra_text.toStringRef());
  loaded.archive = archive_pointer;
  return loaded;
}

void copy_encoder_weights(const Transformer& from, Transformer& to) {
  const auto a = model_config_to_json(from->config()), b = model_config_to_json(to->config());
  for (const auto& [key, value] : a.items()) {
    const bool encoder_key = key.rfind("model.encoder.", 0) == 0 ||
                             std::set<std::string>{"model.architecture", "model.d_model", "model.activation",
                                                   "model.learned_positions", "model.max_positions", "model.residual",
                                                   "model.source_vocab_size"}
                                 .count(key);
    if (encoder_key && b.at(key) != value)
      throw std::invalid_argument(fmt::format("{}: the pretrained model has {}, this one {}", key,
                                              value.get<std::string>(), b.at(key).get<std::string>()));
  }
  auto is_encoder_part = [](const std::string& name) {
    for (const char* prefix : {"source_embedding.", "learned_positions.", "encoder.", "sinusoidal_positions"})
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
