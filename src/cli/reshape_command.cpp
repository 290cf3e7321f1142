// headcount reshape: a multi-head stack and its K-head equivalent, side by side.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "model/reshape.h"

namespace headcount {

namespace {
struct ReshapeOptions {
  int64_t layers = 6, heads = 8, d_model = 512, ffn = 2048, head_dim = 0, to_heads = 1;
  std::string residual = "post-ln";
  bool json = false;
};

nlohmann::json describe(const StackConfig& s, int64_t d_model, ResidualScheme scheme) {
  auto count = count_stack_parameters(s, d_model, false, scheme);
  return {{"layers", s.layers},          {"heads", s.heads},       {"head_dim", s.resolved_head_dim(d_model)},
          {"ffn_dim", s.ffn_dim},        {"d_model", d_model},     {"params", count.total},
          {"attention_ffn_params", count.attention_ffn_weights}};
}
}  // namespace

Subcommand add_reshape_command(CLI::App& app) {
  auto options = std::make_shared<ReshapeOptions>();
  auto* sub = app.add_subcommand("reshape", "rebuild an H-head stack as an equivalent K-head (default 1) stack");
  sub->add_option("--layers", options->layers, "layers of the shallow stack")->required()->check(CLI::PositiveNumber);
  sub->add_option("--heads", options->heads, "heads per layer of the shallow stack")->required()->check(CLI::PositiveNumber);
  sub->add_option("--d-model", options->d_model, "model width")->required()->check(CLI::PositiveNumber);
  sub->add_option("--ffn", options->ffn, "FFN width of the shallow stack")->required()->check(CLI::PositiveNumber);
  sub->add_option("--head-dim", options->head_dim, "head width (default d-model / heads)");
  sub->add_option("--to-heads", options->to_heads, "heads per layer after reshaping")->check(CLI::PositiveNumber);
  sub->add_option("--residual", options->residual, "residual scheme, for the parameter count");
  sub->add_flag("--json", options->json, "print one JSON object {shallow, deep}");
  return {sub, [options]() -> int {
    StackConfig shallow{options->layers, options->heads, options->head_dim, options->ffn};
    const auto scheme = parse_residual_scheme(options->residual);
    const StackConfig deep = reshape_stack(shallow, options->d_model, options->to_heads);
    auto a = describe(shallow, options->d_model, scheme), b = describe(deep, options->d_model, scheme);
    if (options->json) {
      std::cout << nlohmann::json{{"shallow", a}, {"deep", b}, {"counted_for", "one encoder stack"}}.dump(2) << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<28}{:>16}{:>16}\n", "(one encoder stack)", "shallow", "deep");
    for (const char* key : {"layers", "heads", "head_dim", "ffn_dim", "d_model", "params", "attention_ffn_params"})
      std::cout << fmt::format("{:<28}{:>16}{:>16}\n", key, a[key].get<int64_t>(), b[key].get<int64_t>());
    const double growth = 100.0 * (b["params"].get<double>() / a["params"].get<double>() - 1.0);
    std::cout << fmt::format("attention+FFN weights are equal; total grows by {:.2f}% (biases and LayerNorms)\n", growth);
    return 0;
  }};
}

}  // namespace headcount
