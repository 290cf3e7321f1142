// The safetensors file format (https://github.com/huggingface/safetensors), written and read
// natively: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the tensors' bytes back to back, row-major, little-endian.
// The format is small enough that a reader and writer of our own cost less than a library
// (none is packaged for Debian); Python's `safetensors` reads what this writes (tests).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace headcount {

// A tensor with the name it has in the file; names are unique within a file.
using NamedTensor = std::pair<std::string, torch::Tensor>;

// Writes tensors (in the given order; any device, stored contiguous from the CPU) and
// metadata (the header's "__metadata__", string to string) to path, durably
// (util/durable_file.h). Throws std::invalid_argument for a repeated name or a dtype the
// format has no name for, std::runtime_error when the file cannot be written.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

struct SafetensorsContents {
  std::vector<NamedTensor> tensors;  // in file order, on the CPU
  std::map<std::string, std::string> metadata;
};
// Reads a file write_safetensors (or any safetensors writer) made; throws
// std::runtime_error naming path and what is wrong (short file, bad header, ranges that
// overlap or leave the file).
SafetensorsContents read_safetensors(const std::string& path);

// "F32", "BF16", ... for a dtype; throws std::invalid_argument for one the format lacks.
std::string safetensors_dtype(torch::ScalarType dtype);

}  // namespace headcount
