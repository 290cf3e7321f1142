#include "train/data_parallel.h"

#include <fmt/format.h>

#include <cstdlib>
#include <sstream>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

// c10d's Gloo header includes Gloo's own headers: Debian's libgloo-dev has them, PyTorch
// wheels do not ship them; and it is empty in a LibTorch built without Gloo. NCCL's
// process group needs a LibTorch built with it (the torch_cuda target defines
// USE_C10D_NCCL) and nccl.h (CMake finds it and defines HEADCOUNT_WITH_NCCL).
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define HEADCOUNT_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#else
#define HEADCOUNT_HAVE_GLOO 0
#endif
#if defined(USE_C10D_NCCL) && defined(HEADCOUNT_WITH_NCCL)
#define HEADCOUNT_HAVE_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#else
#define HEADCOUNT_HAVE_NCCL 0
#endif

namespace headcount {

bool data_parallel_available(torch::DeviceType type) {
  return type == torch::kCUDA ? HEADCOUNT_HAVE_NCCL : HEADCOUNT_HAVE_GLOO;
}

// The same code builds against LibTorch 1.13 and 2.x: the store and process group
// constructors, Options::create and the collectives kept their signatures. The groups are
// held by their concrete types (1.13 derives them from ProcessGroup, 2.x from Backend).
struct DataParallelGroup::Group {
  c10::intrusive_ptr<c10d::TCPStore> tcp;
  c10::intrusive_ptr<c10d::Store> store;
#if HEADCOUNT_HAVE_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#if HEADCOUNT_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
};

namespace {

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

#if HEADCOUNT_HAVE_GLOO
// The network interfaces Gloo uses: GLOO_SOCKET_IFNAME's (as PyTorch's Python side reads
// it; c10d's C++ does not), loopback when every rank is on this machine, else the one the
// host name resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const LaunchPlan& plan) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  if (const char* names = std::getenv("GLOO_SOCKET_IFNAME"); names != nullptr && *names != '\0') {
    std::stringstream list(names);
    for (std::string name; std::getline(list, name, ',');)
      if (!name.empty()) devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else if (is_loopback(plan.master_addr)) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}
#endif

}  // namespace

DataParallelGroup::DataParallelGroup(const LaunchPlan& plan, torch::Device device, std::chrono::milliseconds timeout)
    : group_(std::make_unique<Group>()), plan_(plan), device_(device), timeout_(timeout) {
  TORCH_CHECK(plan.world_size >= 1 && plan.rank >= 0 && plan.rank < plan.world_size, "data-parallel rank ", plan.rank,
              " of ", plan.world_size, " is out of range");
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(plan.master_port);
  options.isServer = plan.rank == 0 && !plan.agent_store;
  options.numWorkers = static_cast<std::size_t>(plan.world_size);
  options.waitWorkers = false;
  options.timeout = timeout;
  try {
    group_->tcp = c10::make_intrusive<c10d::TCPStore>(plan.master_addr, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format(
        "data-parallel rank {}: cannot {} the rendezvous store at {}:{} ({}); is rank 0 (or torchrun's agent) "
        "running, and the port free and reachable?",
        plan.rank, options.isServer ? "serve" : "reach", plan.master_addr, plan.master_port,
        std::string(e.what()).substr(0, 300)));
  }
  c10::intrusive_ptr<c10d::Store> store = group_->tcp;
  if (!plan.store_prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(plan.store_prefix, store);
  group_->store = c10::make_intrusive<c10d::PrefixStore>("headcount", store);
}

DataParallelGroup::~DataParallelGroup() {
#if HEADCOUNT_HAVE_NCCL && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
  // From 2.4 an NCCL group destroyed without shutdown() warns that it leaks its communicators.
  if (group_->nccl) {
    try {
      group_->nccl->shutdown();
    } catch (const std::exception&) {  // a group that already failed: nothing to release cleanly
    }
  }
#endif
}

int DataParallelGroup::port() const { return group_->tcp->getPort(); }

const char* DataParallelGroup::backend() const { return device_.is_cuda() ? "nccl" : "gloo"; }

void DataParallelGroup::join() {
  if (device_.is_cuda()) {
#if HEADCOUNT_HAVE_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout_;
    group_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_->store, plan_.rank, plan_.world_size, options);
    return;
#else
    throw std::runtime_error(
        "data-parallel training on CUDA needs c10d's NCCL backend: this headcount was built without it (a LibTorch "
        "with CUDA and nccl.h; see docs/gpu.md)");
#endif
  }
#if HEADCOUNT_HAVE_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(timeout_);
  options->devices = gloo_devices(plan_);
  try {
    group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, plan_.rank, plan_.world_size, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("data-parallel rank {} of {}: the ranks did not all join within {} s: {}",
                                         plan_.rank, plan_.world_size, timeout_.count() / 1000.0,
                                         std::string(e.what()).substr(0, 300)));
  }
#else
  throw std::runtime_error(
      "data-parallel training on CPUs needs c10d's Gloo backend, and this headcount was built without Gloo's headers "
      "(Debian: apt-get install libgloo-dev, then rebuild; PyTorch wheels do not ship them); train with one process");
#endif
}

template <typename Start>
void DataParallelGroup::run_collective(const char* what, Start start) {
  try {
#if HEADCOUNT_HAVE_NCCL
    if (group_->nccl) {
      start(*group_->nccl)->wait();
      return;
    }
#endif
#if HEADCOUNT_HAVE_GLOO
    if (group_->gloo) {
      start(*group_->gloo)->wait();
      return;
    }
#endif
    throw std::logic_error("the data-parallel group was used before join()");
  } catch (const std::logic_error&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format(
        "data-parallel rank {} of {}: {} failed: another rank ended, or did not answer within "
        "train.collective_timeout ({} s); the last complete checkpoint is kept. ({})",
        plan_.rank, plan_.world_size, what, timeout_.count() / 1000.0, std::string(e.what()).substr(0, 300)));
  }
}

template <typename Collective>
void DataParallelGroup::through_buckets(const std::vector<torch::Tensor>& tensors, Collective collective) {
  if (tensors.empty()) return;
  std::vector<int64_t> layout;
  for (const auto& t : tensors) layout.push_back(t.numel());
  if (layout != layout_ || buckets_.front().scalar_type() != tensors.front().scalar_type()) {
    // Consecutive tensors fill a bucket up to bucket_bytes (a larger tensor gets its own).
    buckets_.clear(), bucket_ends_.clear();
    const int64_t limit = std::max<int64_t>(1, bucket_bytes / tensors.front().element_size());
    int64_t filled = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (filled > 0 && filled + layout[i] > limit) {
        buckets_.push_back(torch::empty({filled}, tensors.front().options()));
        bucket_ends_.push_back(static_cast<int64_t>(i));
        filled = 0;
      }
      filled += layout[i];
    }
    buckets_.push_back(torch::empty({filled}, tensors.front().options()));
    bucket_ends_.push_back(static_cast<int64_t>(tensors.size()));
    layout_ = layout;
  }
  torch::NoGradGuard no_grad;
  int64_t begin = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    auto& flat = buckets_[b];
    int64_t offset = 0;
    for (int64_t i = begin; i < bucket_ends_[b]; ++i) {
      flat.narrow(0, offset, layout[i]).copy_(tensors[i].reshape(-1));
      offset += layout[i];
    }
    std::vector<torch::Tensor> one{flat};
    collective(one);
    offset = 0;
    for (int64_t i = begin; i < bucket_ends_[b]; ++i) {
      tensors[i].view(-1).copy_(flat.narrow(0, offset, layout[i]));
      offset += layout[i];
    }
    begin = bucket_ends_[b];
  }
}

void DataParallelGroup::sum(const std::vector<torch::Tensor>& tensors) {
  through_buckets(tensors, [&](std::vector<torch::Tensor>& one) {
    run_collective("summing the gradients", [&](auto& g) { return g.allreduce(one); });
  });
}

void DataParallelGroup::copy_from_first_rank(const std::vector<torch::Tensor>& tensors) {
  through_buckets(tensors, [&](std::vector<torch::Tensor>& one) {
    run_collective("receiving rank 0's weights", [&](auto& g) { return g.broadcast(one); });
  });
}

int64_t DataParallelGroup::value_of_first_rank(int64_t value) {
  std::vector<torch::Tensor> one{torch::full({1}, value, torch::TensorOptions().dtype(torch::kLong).device(device_))};
  run_collective("agreeing on the next step", [&](auto& g) { return g.broadcast(one); });
  return one[0].item<int64_t>();
}

}  // namespace headcount
