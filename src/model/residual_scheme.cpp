#include "model/residual_scheme.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace headcount {

namespace {

double one(const StackPlace&) { return 1.0; }
double admin_fixed_weight(const StackPlace& place) { return admin_fixed_scale(place.sublayers); }
DeepNormCoefficients deepnorm_of(const StackPlace& place) {
  return place.is_encoder ? deepnorm_encoder(place.encoder_layers, place.decoder_layers)
                          : deepnorm_decoder(place.encoder_layers, place.decoder_layers);
}
double deepnorm_alpha(const StackPlace& place) { return deepnorm_of(place).alpha; }
double deepnorm_beta(const StackPlace& place) { return deepnorm_of(place).beta; }

// Admin starts from w = 1 and profiling sets it before the first update.
const ResidualTraits kSchemes[] = {
    {ResidualScheme::PostLn, "post-ln", "x = LN(x + f(x))", false, true, false, ResidualWeight::None, false, false, one,
     one, "Vaswani et al. 2017"},
    {ResidualScheme::PreLn, "pre-ln", "x = x + f(LN(x))", true, false, true, ResidualWeight::None, false, false, one,
     one, "Xiong et al. 2020"},
    {ResidualScheme::Admin, "admin", "x = LN(w * x + f(x)), w profiled", false, true, false, ResidualWeight::Learned,
     true, false, one, one, "Liu et al. 2020"},
    {ResidualScheme::AdminFixed, "admin-fixed", "x = LN(w * x + f(x)), w = sqrt((N+1)/ln(N+1) - 1)", false, true,
     false, ResidualWeight::Learned, false, false, admin_fixed_weight, one, "Liu et al. 2020 (admin-torch's O(log N) form)"},
    {ResidualScheme::DeepNorm, "deepnorm", "x = LN(alpha * x + f(x)), beta-scaled init", false, true, false,
     ResidualWeight::Constant, false, true, deepnorm_alpha, deepnorm_beta, "Wang et al. 2022"},
};

}  // namespace

const ResidualTraits& traits_of(ResidualScheme scheme) {
  for (const auto& t : kSchemes)
    if (t.scheme == scheme) return t;
  throw std::logic_error("residual scheme missing from the traits table");
}

std::string to_string(ResidualScheme scheme) { return traits_of(scheme).name; }

std::vector<ResidualScheme> all_residual_schemes() {
  std::vector<ResidualScheme> out;
  for (const auto& t : kSchemes) out.push_back(t.scheme);
  return out;
}

ResidualScheme parse_residual_scheme(const std::string& name) {
  std::string names;
  for (const auto& t : kSchemes) {
    if (name == t.name) return t.scheme;
    names += (names.empty() ? "" : ", ") + std::string(t.name);
  }
  // As util/enum_names.h words it; the names come from the traits table.
  throw std::invalid_argument(fmt::format("unknown residual scheme '{}': expected one of {}", name, names));
}

double admin_fixed_scale(int64_t sublayers) {
  const double n1 = static_cast<double>(sublayers) + 1.0;
  return std::sqrt(n1 / std::log(n1) - 1.0);
}

DeepNormCoefficients deepnorm_encoder(int64_t encoder_layers, int64_t decoder_layers) {
  const double n = static_cast<double>(encoder_layers), m = static_cast<double>(decoder_layers);
  if (decoder_layers == 0) return {std::pow(2.0 * n, 0.25), std::pow(8.0 * n, -0.25)};
  const double base = std::pow(n, 4.0) * m;
  return {0.81 * std::pow(base, 1.0 / 16.0), 0.87 * std::pow(base, -1.0 / 16.0)};
}

DeepNormCoefficients deepnorm_decoder(int64_t encoder_layers, int64_t decoder_layers) {
  const double m = static_cast<double>(decoder_layers);
  if (encoder_layers == 0) return {std::pow(2.0 * m, 0.25), std::pow(8.0 * m, -0.25)};
  return {std::pow(3.0 * m, 0.25), std::pow(12.0 * m, -0.25)};
}

std::string residual_schemes_markdown() {
  auto weight = [](ResidualWeight w) {
    return w == ResidualWeight::None ? "none" : w == ResidualWeight::Learned ? "learned vector w" : "constant alpha";
  };
  std::string out =
      "| scheme | residual step | final LayerNorm | residual weight | profiled | init | from |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const auto& t : kSchemes)
    out += fmt::format("| `{}` | `{}` | {} | {} | {} | {} | {} |\n", t.name, t.formula, t.final_norm ? "yes" : "no",
                       weight(t.weight), t.profiled ? "yes" : "no",
                       t.scaled_init ? "Xavier-normal, gain beta on value/output/FFN" : "Xavier-uniform", t.source);
  return out;
}

}  // namespace headcount
