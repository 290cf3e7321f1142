#include "task/loss.h"

#include "model/transformer.h"  // kPaddingIndex

namespace headcount {

torch::Tensor at_least_float(const torch::Tensor& values) {
  return values.scalar_type() == torch::kBFloat16 || values.scalar_type() == torch::kHalf ? values.to(torch::kFloat)
                                                                                           : values;
}

LossSums label_smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double epsilon) {
  const int64_t vocabulary = logits.size(-1);
  auto log_probabilities = torch::log_softmax(at_least_float(logits), -1).view({-1, vocabulary});
  auto flat_target = target.reshape({-1});
  auto real = flat_target.ne(kPaddingIndex);
  auto nll = -log_probabilities.gather(1, flat_target.unsqueeze(1)).squeeze(1);
  auto smooth = -log_probabilities.sum(1);
  const double others = epsilon / static_cast<double>(vocabulary - 1);
  auto per_token = (1.0 - epsilon - others) * nll + others * smooth;
  LossSums sums;
  sums.loss = per_token.masked_select(real).sum();
  sums.nll = nll.masked_select(real).sum().detach();
  sums.tokens = real.sum().item<int64_t>();
  return sums;
}

}  // namespace headcount
