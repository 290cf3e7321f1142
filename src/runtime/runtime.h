// Where the program's tensors live and in what precision the model computes, chosen once
// per process from the configuration (train.device, train.precision) and passed down to
// everything that makes tensors: the trainer, the tasks' batches, decoding, benchmarks.
// Checkpoints load onto its device.
//
// Precision is mixed precision as PyTorch's autocast does it: the weights, the optimizer
// and the gradients stay fp32; inside an AutocastScope (runtime/autocast.h) the products
// run in bf16 or fp16. bf16 works on the CPU (this project's machine has AVX512-BF16) and
// on GPUs; fp16 only on GPUs, with a loss scaler (train/loss_scaler.h).
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
  // The dtype products run in: float, bfloat16 or half.
  torch::ScalarType compute_dtype() const;
  bool mixed() const { return precision != Precision::Fp32; }
  std::string describe() const;  // "cpu, fp32", "cuda:1, bf16"
  // A warning worth a log line, or "": bf16 on a CPU without AVX-512, where LibTorch's
  // bf16 products take a slow generic path.
  std::string caveat() const;
};

// A device name as train.device takes it: auto (a GPU when there is one), cpu, cuda or
// cuda:N. Throws std::invalid_argument for any other spelling; says nothing about
// whether this machine has the device (make_runtime does).
void check_device_name(const std::string& name);

// The runtime a configuration names on this machine. A device without an index (auto,
// cuda) means GPU local_rank % GPUs: each data-parallel rank of a node its own GPU.
// Throws std::invalid_argument saying what this build and machine can run instead.
Runtime make_runtime(const std::string& device, Precision precision, int local_rank = 0);

// The GPU memory the CUDA caching allocator held at most since the process started (or
// since the last reset), in MiB; 0 on the CPU or in a build without CUDA.
double peak_device_memory_mib(const Runtime& runtime);

}  // namespace headcount
