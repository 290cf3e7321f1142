// Data-parallel training over local processes, with torch's c10d and its Gloo backend.
//
// Every process (rank) holds the whole model and reads its own batches. After the backward
// pass the gradients and the loss sums are added up across the ranks in one collective,
// so every rank applies the same update to the same weights: the models stay identical
// without ever being sent. One update of N ranks is one update of a single process with
// train.update_freq N (tested). Rank 0 alone evaluates and writes the run folder.
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

namespace headcount {

// False when this program was built without Gloo's headers (see data_parallel.cpp):
// then constructing a group throws, and train.processes must be 1.
bool data_parallel_available();

class DataParallelGroup {
 public:
  // Joins the group; blocks until all `size` ranks have joined through the same file (a
  // c10d FileStore: the file must not be left over from an earlier group). `timeout`
  // bounds every collective, and rank 0's dev evaluations happen while the others wait
  // inside one.
  DataParallelGroup(const std::string& rendezvous_file, int rank, int size, std::chrono::seconds timeout);
  ~DataParallelGroup();
  DataParallelGroup(const DataParallelGroup&) = delete;
  DataParallelGroup& operator=(const DataParallelGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // In place, each tensor becomes its sum over the ranks: one flat buffer, one collective.
  // All tensors must be defined, contiguous and of one dtype. The buffer is kept for the
  // next call, so an update allocates nothing here once the sizes are known.
  void sum(const std::vector<torch::Tensor>& tensors);

  // Rank 0's value, returned on every rank.
  int64_t value_of_first_rank(int64_t value);

 private:
  struct Group;
  std::unique_ptr<Group> group_;
  int rank_, size_;
  torch::Tensor flat_;
};

}  // namespace headcount
