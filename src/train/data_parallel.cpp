#include "train/data_parallel.h"

// c10d's Gloo header includes Gloo's own headers: Debian's libgloo-dev has them, PyTorch
// wheels do not ship them. Without them the program still builds, with train.processes 1.
#if __has_include(<gloo/algorithm.h>)
#define HEADCOUNT_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#else
#define HEADCOUNT_HAVE_GLOO 0
#endif

namespace headcount {

bool data_parallel_available() { return HEADCOUNT_HAVE_GLOO; }

#if HEADCOUNT_HAVE_GLOO

// The same code builds against LibTorch 1.13 and 2.x: the constructor, Options::create,
// createDeviceForHostname and the collectives kept their signatures.
struct DataParallelGroup::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

DataParallelGroup::DataParallelGroup(const std::string& rendezvous_file, int rank, int size,
                                     std::chrono::seconds timeout)
    : group_(std::make_unique<Group>()), rank_(rank), size_(size) {
  TORCH_CHECK(size >= 1 && rank >= 0 && rank < size, "data-parallel rank ", rank, " of ", size, " is out of range");
  auto store = c10::make_intrusive<c10d::FileStore>(rendezvous_file, size);
  auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  // Loopback by address: every rank is on this machine, and a host name need not resolve.
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}

DataParallelGroup::~DataParallelGroup() = default;

void DataParallelGroup::sum(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  int64_t total = 0;
  for (const auto& t : tensors) total += t.numel();
  if (!flat_.defined() || flat_.numel() != total || flat_.scalar_type() != tensors.front().scalar_type())
    flat_ = torch::empty({total}, tensors.front().options());
  int64_t offset = 0;
  for (const auto& t : tensors) {
    flat_.narrow(0, offset, t.numel()).copy_(t.view(-1));
    offset += t.numel();
  }
  std::vector<torch::Tensor> buffer{flat_};
  group_->gloo->allreduce(buffer)->wait();
  offset = 0;
  for (const auto& t : tensors) {
    t.view(-1).copy_(flat_.narrow(0, offset, t.numel()));
    offset += t.numel();
  }
}

int64_t DataParallelGroup::value_of_first_rank(int64_t value) {
  std::vector<torch::Tensor> buffer{torch::full({1}, value, torch::kLong)};
  group_->gloo->broadcast(buffer)->wait();
  return buffer[0].item<int64_t>();
}

#else

struct DataParallelGroup::Group {};

DataParallelGroup::DataParallelGroup(const std::string&, int rank, int size, std::chrono::seconds)
    : rank_(rank), size_(size) {
  throw std::runtime_error(
      "train.processes > 1 needs c10d's Gloo backend, and this headcount was built without Gloo's headers "
      "(Debian: apt-get install libgloo-dev, then rebuild); set train.processes: 1");
}

DataParallelGroup::~DataParallelGroup() = default;
void DataParallelGroup::sum(const std::vector<torch::Tensor>&) {}
int64_t DataParallelGroup::value_of_first_rank(int64_t value) { return value; }

#endif

}  // namespace headcount
