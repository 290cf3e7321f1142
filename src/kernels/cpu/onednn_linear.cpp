#include "kernels/cpu/onednn_linear.h"

#include "kernels/cpu/onednn_product.h"
#include "kernels/cpu/thin_linear.h"
#include "runtime/autocast.h"

namespace headcount {

namespace {

// rows [m, in] weight^T (+ bias) -> [..., out] with the leading sizes of x. The product
// writes through a [m, out] view of a tensor made for the result, so the result is no
// view: in-place operations on it are allowed, as on torch::linear's.
torch::Tensor forward_product(const torch::Tensor& rows, c10::IntArrayRef x_sizes, const torch::Tensor& weight,
                              const torch::Tensor& bias) {
  auto sizes = x_sizes.vec();
  sizes.back() = weight.size(0);
  auto y = torch::empty(sizes, rows.options());
  onednn_product(rows, weight.t(), bias, y.view({rows.size(0), weight.size(0)}));
  return y;
}

struct OneDnnLinearFunction : torch::autograd::Function<OneDnnLinearFunction> {
  // The bias as an optional: autograd registers an input only when it holds a tensor.
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& x,
                               const torch::Tensor& weight, const c10::optional<torch::Tensor>& bias) {
    const auto rows = x.reshape({-1, weight.size(1)});
    context->save_for_backward({rows, weight});
    context->saved_data["has_bias"] = bias.has_value();
    return forward_product(rows, x.sizes(), weight, bias ? bias->contiguous() : torch::Tensor());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* context,
                                               torch::autograd::tensor_list gradients) {
    const auto saved = context->get_saved_variables();
    const auto& rows = saved[0];
    const auto& weight = saved[1];
    const auto gradient = gradients[0].reshape({-1, weight.size(0)});
    torch::Tensor input_gradient, weight_gradient, bias_gradient;
    if (context->needs_input_grad(0)) {
      // x's shape: the output's (the incoming gradient's) but the last size.
      auto sizes = gradients[0].sizes().vec();
      sizes.back() = weight.size(1);
      input_gradient = torch::empty(sizes, rows.options());
      onednn_product(gradient, weight, {}, input_gradient.view({rows.size(0), weight.size(1)}));
    }
    const bool wants_bias = context->saved_data["has_bias"].toBool() && context->needs_input_grad(2);
    if (context->needs_input_grad(1)) {
      weight_gradient = torch::empty_like(weight, torch::MemoryFormat::Contiguous);
      onednn_weight_gradient(gradient, rows, weight_gradient, wants_bias ? &bias_gradient : nullptr);
    } else if (wants_bias) {
      bias_gradient = gradient.sum(0);
    }
    return {input_gradient, weight_gradient, bias_gradient};
  }
};

bool float_cpu(const torch::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == torch::kFloat; }

}  // namespace

bool onednn_linear_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!onednn_products_built()) return false;
  if (!x.defined() || !weight.defined() || !float_cpu(x) || !float_cpu(weight) || weight.dim() != 2) return false;
  if (bias.defined() && (!float_cpu(bias) || bias.dim() != 1 || bias.size(0) != weight.size(0))) return false;
  if (x.dim() < 1 || x.size(-1) != weight.size(1) || x.numel() == 0 || weight.numel() == 0) return false;
  return !cpu_autocast_enabled();  // under autocast the product is autocast's to type
}

torch::Tensor onednn_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(onednn_linear_applies(x, weight, bias), "onednn_linear: shapes, types or autocast state it does not take");
  if (product_wants_gradient(x, weight, bias))
    return OneDnnLinearFunction::apply(x, weight, bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt);
  // Inference (evaluation, batched decoding): no autograd node, nothing saved.
  const auto rows = x.reshape({-1, weight.size(1)});
  return forward_product(rows, x.sizes(), weight, bias.defined() ? bias.contiguous() : bias);
}

}  // namespace headcount
