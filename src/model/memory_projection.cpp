#include "model/memory_projection.h"

#include "model/linear.h"

namespace headcount {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct SplitColumnsFunction : torch::autograd::Function<SplitColumnsFunction> {
  static variable_list forward(AutogradContext* context, const torch::Tensor& y, const std::vector<int64_t>& widths) {
    context->set_materialize_grads(false);
    context->saved_data["widths"] = widths;
    context->saved_data["sizes"] = y.sizes().vec();
    variable_list pieces;
    int64_t offset = 0;
    for (const int64_t width : widths) {
      pieces.push_back(y.narrow(-1, offset, width));
      offset += width;
    }
    return pieces;
  }

  static variable_list backward(AutogradContext* context, variable_list gradients) {
    const auto widths = context->saved_data["widths"].toIntVector();
    auto sizes = context->saved_data["sizes"].toIntVector();
    torch::TensorOptions options;
    bool any = false;
    for (const auto& g : gradients)
      if (g.defined()) options = g.options(), any = true;
    if (!any) return {torch::Tensor(), torch::Tensor()};
    std::vector<torch::Tensor> parts;
    for (size_t i = 0; i < widths.size(); ++i) {
      if (gradients[i].defined()) {
        parts.push_back(gradients[i]);
      } else {
        sizes.back() = widths[i];
        parts.push_back(torch::zeros(sizes, options));
      }
    }
    return {torch::cat(parts, -1), torch::Tensor()};
  }
};

}  // namespace

std::vector<torch::Tensor> split_columns(const torch::Tensor& y, const std::vector<int64_t>& widths) {
  return SplitColumnsFunction::apply(y, widths);
}

std::vector<AttentionCache> project_memory_for_layers(const std::vector<MultiHeadAttention>& attentions,
                                                      const torch::Tensor& memory) {
  TORCH_CHECK(!attentions.empty(), "project_memory_for_layers: no attentions");
  std::vector<torch::Tensor> weights, biases;
  std::vector<int64_t> widths;
  for (const auto& attention : attentions) {
    TORCH_CHECK(attention->key_value, "project_memory_for_layers takes cross-attentions");
    weights.push_back(attention->key_value->weight);
    biases.push_back(attention->key_value->bias);
    widths.push_back(attention->key_value->weight.size(0));
  }
  const bool biased = biases.front().defined();
  for (const auto& bias : biases)
    TORCH_CHECK(bias.defined() == biased, "project_memory_for_layers: some key_value projections without a bias");
  const auto projected = linear_product(memory, torch::cat(weights), biased ? torch::cat(biases) : torch::Tensor());
  std::vector<AttentionCache> caches;
  for (auto& piece : split_columns(projected, widths)) caches.push_back({piece});
  return caches;
}

}  // namespace headcount
