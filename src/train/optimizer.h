// The update rules a run can use: Adam and AdamW (LibTorch's state and checkpoint format,
// the update fused into one pass per parameter: train/adam_update.h), and RAdam (Liu et al.
// 2019, the optimizer of the Admin reference recipes), written here. One interface so the
// trainer sets the learning rate per update and checkpoints the state the same way.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"

namespace headcount {

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::Adam;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-8, weight_decay = 0.0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update with learning rate lr from the gradients in the parameters.
  virtual void step(double lr) = 0;
  virtual void zero_grad() = 0;
  virtual void save(torch::serialize::OutputArchive& archive) = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::vector<torch::Tensor> parameters);

// RAdam: Adam whose adaptive step is switched on gradually by the rectification term
// r_t once the variance of the adaptive rate is tractable (rho_t > 4); before that, plain
// momentum SGD with bias correction. Weight decay is decoupled, as in the Admin code.
class RAdam : public Optimizer {
 public:
  RAdam(std::vector<torch::Tensor> parameters, const OptimizerOptions& options);
  void step(double lr) override;
  void zero_grad() override;
  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;

  // The rectification r_t for step t (1-based), or 0 where RAdam uses the momentum step.
  static double rectification(int64_t t, double beta2);

 private:
  std::vector<torch::Tensor> parameters_, first_moment_, second_moment_;
  OptimizerOptions options_;
  int64_t steps_ = 0;
};

}  // namespace headcount
