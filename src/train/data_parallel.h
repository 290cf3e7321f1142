// Data-parallel training over processes (ranks), with torch's c10d: Gloo on CPUs, NCCL when
// the model is on CUDA GPUs. How the ranks are started and find each other: train/launch.h.
//
// Every rank holds the whole model and reads its own batches. After the backward pass the
// gradients and the loss sums are added up across the ranks, in buckets of bounded size as
// PyTorch's DDP does, so every rank applies the same update to the same weights: the
// models stay identical without ever being sent. One update of N ranks is one update of a
// single process with train.update_freq N (tested). Rank 0 alone evaluates and writes the
// run folder.
//
// A rank that dies makes the next collective of the others fail at once (Gloo: connection
// reset); one that hangs, after train.collective_timeout. Either way the others end with
// an error that says so, never a silent hang.
//
// Why processes and not threads: on two cores one two-thread process gets 1.56x out of the
// second core on the g2p-base shape, and two one-thread ranks train 1.21x faster than that
// process, the collective included (docs/benchmarks.md).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "train/launch.h"

namespace headcount {

// Whether this build can sum over ranks on that kind of device: Gloo for the CPU (absent
// when built without Gloo's headers, as against a PyTorch wheel), NCCL for CUDA (absent
// without a CUDA LibTorch and nccl.h). See data_parallel.cpp; join() throws saying so.
bool data_parallel_available(torch::DeviceType type = torch::kCPU);

class DataParallelGroup {
 public:
  // Connects to the rendezvous store (rank 0 serves it unless torchrun's agent does; a
  // master port of 0 lets the system choose one, which port() then tells). Does not wait
  // for the other ranks: join() does.
  DataParallelGroup(const LaunchPlan& plan, torch::Device device, std::chrono::milliseconds timeout);
  ~DataParallelGroup();
  DataParallelGroup(const DataParallelGroup&) = delete;
  DataParallelGroup& operator=(const DataParallelGroup&) = delete;

  int port() const;
  // Blocks until every rank has joined, then the collectives below can run: Gloo for
  // tensors on the CPU, NCCL for tensors on CUDA.
  void join();

  int rank() const { return plan_.rank; }
  int size() const { return plan_.world_size; }
  const char* backend() const;

  // In place, each tensor becomes its sum over the ranks. All tensors must be defined,
  // contiguous, of one dtype and on the group's device. They are copied into flat buckets
  // of at most bucket_bytes (one tensor per collective, as NCCL wants it); the buckets are
  // kept for the next call, so an update allocates nothing here once the sizes are known.
  void sum(const std::vector<torch::Tensor>& tensors);

  // In place, each tensor becomes rank 0's (weights: every rank starts from rank 0's
  // initialisation and Admin profile). Same rules and buckets as sum.
  void copy_from_first_rank(const std::vector<torch::Tensor>& tensors);

  // Rank 0's value, returned on every rank; also a barrier (no rank returns before rank 0
  // has called it).
  int64_t value_of_first_rank(int64_t value);

  static constexpr int64_t bucket_bytes = 25 << 20;  // DDP's default

 private:
  struct Group;
  // Runs one collective and waits for it; a failure becomes an error naming this rank and
  // the likely cause.
  template <typename Start>
  void run_collective(const char* what, Start start);
  template <typename Collective>
  void through_buckets(const std::vector<torch::Tensor>& tensors, Collective collective);

  std::unique_ptr<Group> group_;
  LaunchPlan plan_;
  torch::Device device_;
  std::chrono::milliseconds timeout_;
  std::vector<torch::Tensor> buckets_;
  std::vector<int64_t> bucket_ends_;  // index past the last tensor of each bucket
  std::vector<int64_t> layout_;       // numel of each tensor the buckets were laid out for
};

}  // namespace headcount
