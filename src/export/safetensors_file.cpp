#include "export/safetensors_file.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "util/durable_file.h"

namespace headcount {

namespace {

const std::vector<std::pair<torch::ScalarType, const char*>>& dtype_names() {
  static const std::vector<std::pair<torch::ScalarType, const char*>> names{
      {torch::kFloat, "F32"}, {torch::kBFloat16, "BF16"}, {torch::kHalf, "F16"},  {torch::kDouble, "F64"},
      {torch::kLong, "I64"},  {torch::kInt, "I32"},       {torch::kShort, "I16"}, {torch::kChar, "I8"},
      {torch::kByte, "U8"},   {torch::kBool, "BOOL"}};
  return names;
}

torch::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& [dtype, n] : dtype_names())
    if (name == n) return dtype;
  throw std::runtime_error(fmt::format("{}: dtype '{}' is not one headcount reads", where, name));
}

}  // namespace

std::string safetensors_dtype(torch::ScalarType dtype) {
  for (const auto& [d, name] : dtype_names())
    if (d == dtype) return name;
  throw std::invalid_argument(fmt::format("safetensors has no name for dtype {}", c10::toString(dtype)));
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  std::set<std::string> names;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__" || !names.insert(name).second)
      throw std::invalid_argument(fmt::format("safetensors: tensor name '{}' given twice or reserved", name));
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", safetensors_dtype(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  // Padded with spaces so that the data starts 8-byte aligned, as the reference writer does.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  write_durably(path, [&](const ByteSink& sink) {
    unsigned char length[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));  // little-endian
    sink(length, 8);
    sink(text.data(), text.size());
    for (const auto& t : data) sink(t.data_ptr(), t.numel() * t.element_size());
  });
}

SafetensorsContents read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot be opened", path));
  std::error_code error;
  const uintmax_t file_size = std::filesystem::file_size(path, error);
  if (error) throw std::runtime_error(fmt::format("{}: cannot be read ({})", path, error.message()));
  unsigned char length[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(length), 8))
    throw std::runtime_error(fmt::format("{}: shorter than a safetensors header", path));
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length[i];
  if (header_size > file_size - 8 || header_size > (100u << 20))
    throw std::runtime_error(fmt::format("{}: header of {} bytes in a file of {}", path, header_size, file_size));
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: header is not JSON ({})", path, e.what()));
  }
  if (!header.is_object()) throw std::runtime_error(fmt::format("{}: header is not a JSON object", path));
  const uint64_t data_size = file_size - 8 - header_size;
  std::string data(data_size, '\0');
  if (!in.read(data.data(), static_cast<std::streamsize>(data_size)))
    throw std::runtime_error(fmt::format("{}: its data cannot be read", path));
  SafetensorsContents out;
  for (const auto& [name, entry] : header.items()) {
    const auto where = fmt::format("{}: tensor '{}'", path, name);
    try {
      if (name == "__metadata__") {
        for (const auto& [key, value] : entry.items()) out.metadata[key] = value.get<std::string>();
        continue;
      }
      const auto dtype = dtype_from_name(entry.at("dtype").get<std::string>(), where);
      const auto shape = entry.at("shape").get<std::vector<int64_t>>();
      const auto range = entry.at("data_offsets").get<std::vector<uint64_t>>();
      int64_t numel = 1;
      for (auto s : shape) {
        if (s < 0 || (s > 0 && numel > (int64_t{1} << 40) / s)) throw std::runtime_error("shape out of range");
        numel *= s;
      }
      const uint64_t bytes = static_cast<uint64_t>(numel) * c10::elementSize(dtype);
      if (range.size() != 2 || range[0] > range[1] || range[1] > data_size || range[1] - range[0] != bytes)
        throw std::runtime_error(fmt::format("data_offsets do not hold {} bytes within {}", bytes, data_size));
      auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
      if (bytes) std::memcpy(t.data_ptr(), data.data() + range[0], bytes);
      out.tensors.emplace_back(name, t);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(fmt::format("{}: {}", where, e.what()));
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).rfind(path, 0) == 0) throw;
      throw std::runtime_error(fmt::format("{}: {}", where, e.what()));
    }
  }
  return out;
}

}  // namespace headcount
