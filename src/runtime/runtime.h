// Where the program's tensors live and in what precision the model computes, chosen once
// per process from the configuration (train.device, train.precision) and passed down to
// everything that makes tensors: the trainer, the tasks' batches, decoding, benchmarks.
// Checkpoints load onto its device.
#pragma once

#include <torch/torch.h>

#include <string>

namespace headcount {

enum class Precision { Fp32, Bf16, Fp16 };
std::string to_string(Precision precision);
// Throws std::invalid_argument naming the accepted spellings.
Precision parse_precision(const std::string& name);

struct Runtime {
  torch::Device device{torch::kCPU};
  Precision precision = Precision::Fp32;

  // Token indices on this device.
  torch::TensorOptions tokens() const { return torch::TensorOptions().dtype(torch::kLong).device(device); }
  std::string describe() const;  // "cpu, fp32"
};

// The runtime a configuration names. Throws std::invalid_argument saying what this build
// can run when the device or precision is not available.
Runtime make_runtime(const std::string& device, Precision precision);

}  // namespace headcount
