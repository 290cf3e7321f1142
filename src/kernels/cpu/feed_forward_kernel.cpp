#include "kernels/cpu/feed_forward_kernel.h"

#include <ATen/Parallel.h>

#include <array>

#include "kernels/cpu/onednn_linear.h"
#include "kernels/cpu/onednn_product.h"
#include "kernels/cpu/thin_linear.h"
#include "kernels/dropout.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// gradient[i] *= scale where kept[i] > 0, else 0, for n elements: the backward of ReLU and
// dropout at once (kept = dropout(relu(pre)) is positive exactly where both pass).
HEADCOUNT_VECTOR_CLONES void relu_dropout_backward(float* gradient, const float* kept, int64_t n, float scale) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) gradient[i] = kept[i] > 0.f ? gradient[i] * scale : 0.f;
}

float dropout_scale(double dropout) { return static_cast<float>(1.0 / (1.0 - dropout)); }

// The forward on rows [m, d]: the kept activations [m, f] (after activation and dropout)
// and, for GELU, the pre-activations, then the output rows written into y_rows [m, d].
struct Activations {
  torch::Tensor pre, kept;
};

Activations forward_rows(const torch::Tensor& rows, const FeedForwardWeights& w, Activation activation,
                         double dropout, uint64_t seed, const torch::Tensor& y_rows) {
  const bool relu = activation == Activation::Relu;
  auto hidden = torch::empty({rows.size(0), w.expand_weight.size(0)}, rows.options());
  onednn_product(rows, w.expand_weight.t(), w.expand_bias.contiguous(), hidden, relu);
  Activations out;
  if (!relu) {
    out.pre = hidden;
    hidden = torch::gelu(hidden);
  }
  out.kept = dropout > 0 ? hashed_dropout(hidden, dropout, true, seed) : hidden;
  onednn_product(out.kept, w.contract_weight.t(), w.contract_bias.contiguous(), y_rows);
  return out;
}

// The four weight gradients {expand weight, expand bias, contract weight, contract bias}
// from the output's gradient [m, d], the kept activations [m, f], the kept activations'
// gradient [m, f] and the input rows [m, d]. relu_scale > 0: ReLU's (and dropout's)
// backward is applied to hidden_gradient in place here, with that scale (1 / keep
// probability); 0: hidden_gradient is the pre-activations' gradient already.
std::array<torch::Tensor, 4> backward_weights(const torch::Tensor& gradient, const torch::Tensor& kept,
                                              const torch::Tensor& hidden_gradient, const torch::Tensor& rows,
                                              const torch::Tensor& expand_weight, const torch::Tensor& contract_weight,
                                              float relu_scale) {
  const int64_t m = rows.size(0), f = hidden_gradient.size(1);
  const bool relu = relu_scale > 0;
  const auto relu_backward_rows = [&](int64_t begin, int64_t count) {
    relu_dropout_backward(hidden_gradient.data_ptr<float>() + begin * f, kept.data_ptr<float>() + begin * f,
                          count * f, relu_scale);
  };
  auto expand_weight_gradient = torch::empty_like(expand_weight, torch::MemoryFormat::Contiguous);
  auto contract_weight_gradient = torch::empty_like(contract_weight, torch::MemoryFormat::Contiguous);
  torch::Tensor expand_bias_gradient, contract_bias_gradient;
  const int64_t shares = weight_gradient_shares(m, expand_weight.numel());
  if (shares > 1) {
    // One region: each thread takes a share of rows through both layers' weight
    // gradients, with ReLU's backward on its rows in between.
    WeightGradientShares contract(shares, contract_weight_gradient, true), expand(shares, expand_weight_gradient, true);
    const auto rows_dense = rows.contiguous();
    const MatrixView gradient_view = matrix_view(gradient), kept_view = matrix_view(kept),
                     hidden_view = matrix_view(hidden_gradient), rows_view = matrix_view(rows_dense);
    at::parallel_for(0, shares, 1, [&](int64_t first, int64_t last) {
      for (int64_t s = first; s < last; ++s) {
        const auto [begin, count] = share_rows(m, shares, s);
        contract.sum_share(s, gradient_view.row_block(begin, count), kept_view.row_block(begin, count));
        if (relu) relu_backward_rows(begin, count);
        expand.sum_share(s, hidden_view.row_block(begin, count), rows_view.row_block(begin, count));
      }
    });
    contract_bias_gradient = contract.finish();
    expand_bias_gradient = expand.finish();
  } else {
    onednn_weight_gradient(gradient, kept, contract_weight_gradient, &contract_bias_gradient);
    if (relu) at::parallel_for(0, m, 64, [&](int64_t begin, int64_t end) { relu_backward_rows(begin, end - begin); });
    onednn_weight_gradient(hidden_gradient, rows, expand_weight_gradient, &expand_bias_gradient);
  }
  return {expand_weight_gradient, expand_bias_gradient, contract_weight_gradient, contract_bias_gradient};
}

torch::Tensor output_like(const torch::Tensor& x) { return torch::empty(x.sizes(), x.options()); }

class FeedForwardFunction : public torch::autograd::Function<FeedForwardFunction> {
 public:
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& x, const torch::Tensor& expand_weight,
                               const torch::Tensor& expand_bias, const torch::Tensor& contract_weight,
                               const torch::Tensor& contract_bias, int64_t activation, double dropout, int64_t seed) {
    const FeedForwardWeights w{expand_weight, expand_bias, contract_weight, contract_bias};
    const auto rows = x.reshape({-1, x.size(-1)});
    auto y = output_like(x);
    const auto kept = forward_rows(rows, w, static_cast<Activation>(activation), dropout, static_cast<uint64_t>(seed),
                                   y.view({rows.size(0), x.size(-1)}));
    context->save_for_backward({rows, expand_weight, contract_weight, kept.kept, kept.pre});
    context->saved_data["activation"] = activation;
    context->saved_data["dropout"] = dropout;
    context->saved_data["seed"] = seed;
    return y;
  }

  static variable_list backward(AutogradContext* context, variable_list gradients) {
    const auto saved = context->get_saved_variables();
    const auto &rows = saved[0], &expand_weight = saved[1], &contract_weight = saved[2], &kept = saved[3];
    const auto activation = static_cast<Activation>(context->saved_data["activation"].toInt());
    const double dropout = context->saved_data["dropout"].toDouble();
    const int64_t m = rows.size(0), d = rows.size(1);
    const auto gradient = gradients[0].reshape({m, d}).contiguous();

    // The gradient of the kept activations, then of the pre-activations, in place (ReLU's
    // in backward_weights, per share of rows).
    auto hidden_gradient = torch::empty({m, expand_weight.size(0)}, rows.options());
    onednn_product(gradient, contract_weight, {}, hidden_gradient);
    const bool relu = activation == Activation::Relu;
    if (!relu) {
      if (dropout > 0)
        hidden_gradient = hashed_dropout(hidden_gradient, dropout, true,
                                         static_cast<uint64_t>(context->saved_data["seed"].toInt()));
      hidden_gradient = torch::gelu_backward(hidden_gradient, saved[4]);
    }
    const float relu_scale = !relu ? 0.f : dropout > 0 ? dropout_scale(dropout) : 1.f;
    const auto weight_gradients = backward_weights(gradient, kept, hidden_gradient, rows, expand_weight,
                                                   contract_weight, relu_scale);
    torch::Tensor input_gradient;
    if (context->needs_input_grad(0)) {
      input_gradient = torch::empty(gradients[0].sizes(), rows.options());
      onednn_product(hidden_gradient, expand_weight, {}, input_gradient.view({m, d}));
    }
    return {input_gradient,       weight_gradients[0], weight_gradients[1], weight_gradients[2],
            weight_gradients[3], torch::Tensor(),     torch::Tensor(),     torch::Tensor()};
  }
};

bool wants_gradient(const torch::Tensor& x, const FeedForwardWeights& w) {
  return product_wants_gradient(x, w.expand_weight, w.expand_bias) ||
         product_wants_gradient(x, w.contract_weight, w.contract_bias);
}

}  // namespace

bool feed_forward_kernel_applies(const torch::Tensor& x, const FeedForwardWeights& w,
                                 const FeedForwardOptions& options) {
  if (!w.expand_bias.defined() || !w.contract_bias.defined() || !(options.dropout < 1)) return false;
  if (!onednn_linear_applies(x, w.expand_weight, w.expand_bias)) return false;
  // The contract layer as the expand layer's mirror: [d, f] and [d], CPU float32 alike.
  const auto& c = w.contract_weight;
  const int64_t d = w.expand_weight.size(1), f = w.expand_weight.size(0);
  if (!c.defined() || c.dim() != 2 || c.size(0) != d || c.size(1) != f || w.contract_bias.numel() != d) return false;
  for (const auto* t : {&c, &w.contract_bias})
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat || t->dim() != (t == &c ? 2 : 1)) return false;
  return x.numel() >= kOneDnnLinearMinRows * d;
}

torch::Tensor feed_forward_kernel(const torch::Tensor& x, const FeedForwardWeights& w,
                                  const FeedForwardOptions& options) {
  TORCH_CHECK(feed_forward_kernel_applies(x, w, options),
              "feed_forward_kernel: shapes, types or autocast state it does not take");
  const uint64_t seed = options.dropout > 0 ? (options.seed ? *options.seed : draw_dropout_seed()) : 0;
  if (wants_gradient(x, w))
    return FeedForwardFunction::apply(x, w.expand_weight, w.expand_bias, w.contract_weight, w.contract_bias,
                                      static_cast<int64_t>(options.activation), options.dropout,
                                      static_cast<int64_t>(seed));
  // Inference: no autograd node, nothing kept.
  const auto rows = x.reshape({-1, x.size(-1)});
  auto y = output_like(x);
  forward_rows(rows, w, options.activation, options.dropout, seed, y.view({rows.size(0), x.size(-1)}));
  return y;
}

}  // namespace headcount
