// headcount bench: speed measurements (never timed tests; results go to docs/benchmarks.md).
// Parses a named shape and the numbers laid over it into study/bench.h's typed request, and
// prints its result as a sentence or one JSON object.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "study/bench.h"

namespace headcount {
namespace {

// The command line as given; parsed into a typed BenchRequest (study/bench.h).
struct BenchOptions {
  std::string mode = "train";
  std::string shape_name = "demo-shallow";
  StepShape given;  // the numbers given on the command line, laid over the named shape
  std::string scheme = "post-ln", device = "cpu", precision = "fp32";
  int64_t rounds = 1;
  bool json = false, reference = false, skip_peak = false;
  std::string python = "python3", reference_script;
  std::string against;  // a named shape timed in the same rounds (its deep or shallow twin)
};

struct ShapeOption {
  const char* name;
  int64_t StepShape::*member;
  const char* description;
};

const std::vector<ShapeOption>& shape_options() {
  static const std::vector<ShapeOption> options{
      {"--encoder-layers", &StepShape::encoder_layers, "encoder layers"},
      {"--decoder-layers", &StepShape::decoder_layers, "decoder layers"},
      {"--heads", &StepShape::heads, "heads per layer"},
      {"--d-model", &StepShape::d_model, "model width"},
      {"--head-dim", &StepShape::head_dim, "width of one head"},
      {"--ffn", &StepShape::ffn_dim, "FFN width"},
      {"--batch", &StepShape::batch, "sentences per batch"},
      {"--source-length", &StepShape::source_length, "source tokens per sentence"},
      {"--target-length", &StepShape::target_length, "target tokens per sentence"},
      {"--steps", &StepShape::steps, "timed updates (train, after two warm-up updates) or decoding calls (decode)"},
  };
  return options;
}

// Whether a number sizes the batch and the timing, not the model: these apply to the
// --against shape as well, so both are timed on the same batches.
bool sizes_the_batch(const std::string& option) {
  return option == "--batch" || option == "--source-length" || option == "--target-length" || option == "--steps";
}

// The named shape with the numbers given laid over it: all of them, or (the --against
// shape) only those that size the batch.
StepShape resolve_shape(const std::string& name, const BenchOptions& request, const CLI::App& sub,
                        bool batch_numbers_only) {
  auto shape = named_step_shape(name);
  for (const auto& option : shape_options())
    if (sub.count(option.name) > 0 && (!batch_numbers_only || sizes_the_batch(option.name)))
      shape.*option.member = request.given.*option.member;
  shape.residual = parse_residual_scheme(request.scheme);
  return shape;
}

// The shape's name in the output: "custom" for numbers alone, "NAME, changed" for a named
// shape with numbers laid over it (a different number of timed steps changes no shape).
std::string shape_label(const BenchOptions& request, const CLI::App& sub) {
  const auto named = named_step_shape(request.shape_name);
  bool changed = false;
  for (const auto& option : shape_options())
    changed = changed || (sub.count(option.name) > 0 && std::string(option.name) != "--steps" &&
                          request.given.*option.member != named.*option.member);
  if (!changed) return request.shape_name;
  return sub.count("--shape") > 0 ? request.shape_name + ", changed" : "custom";
}

std::string human_line(const nlohmann::json& r) {
  const bool training = r["mode"] == "train";
  const double peak = r["peak_gflops"].get<double>();
  const auto against_peak = peak > 0 ? fmt::format(" = {:.1f}% of a measured {:.1f} GFLOP/s", 100 * r["mfu"].get<double>(), peak)
                                     : std::string(" (peak not measured)");
  auto line = fmt::format(
      "{} {} ({}, {}, {} thread{}, allocator {}): {:.1f} ms/{}, {:.0f} tokens/s, {:.1f} GFLOP/s{}; {} parameters; peak "
      "RSS {:.0f} MiB ({:+.1f} MiB over the timed calls)",
      r["mode"].get<std::string>(), r["shape"]["name"].get<std::string>(), r["precision"].get<std::string>(),
      r["device"].get<std::string>(), r["threads"].get<int>(), r["threads"].get<int>() == 1 ? "" : "s",
      r["allocator"].get<std::string>(), r["step_ms"].get<double>(),
      training ? "update" : "batch", r["tokens_per_s"].get<double>(), r["gflops"].get<double>(), against_peak,
      r["parameters"].get<int64_t>(), r["peak_rss_mib"].get<double>(), r["rss_growth_mib"].get<double>());
  if (r.contains("reference_error"))
    line += "\n" + r["reference_error"].get<std::string>();
  if (r.contains("reference"))
    line += fmt::format("\nPyTorch-eager reference: {:.1f} ms/update; headcount {:.2f}x its speed",
                        r["reference"]["step_ms"].get<double>(), r["speedup_vs_reference"].get<double>());
  if (r.contains("against")) {
    const auto ratios = r["time_ratio_to_against_rounds"].get<std::vector<double>>();
    line += fmt::format("\nagainst {}: {:.1f} ms/{}; this shape takes {:.2f}x its time (median of {} round{}, {:.2f}-{:.2f}x)",
                        r["against"]["shape"]["name"].get<std::string>(), r["against"]["step_ms"].get<double>(),
                        training ? "update" : "batch", r["time_ratio_to_against"].get<double>(), ratios.size(),
                        ratios.size() == 1 ? "" : "s", *std::min_element(ratios.begin(), ratios.end()),
                        *std::max_element(ratios.begin(), ratios.end()));
  }
  return line;
}

}  // namespace

Subcommand add_bench_command(CLI::App& app) {
  auto request = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand(
      "bench", "time a training update or a decoding call of an encoder-decoder on random tokens (the model of "
               "bench/reference_step.py), against this machine's matrix-product peak");
  sub->add_option("mode", request->mode, "train (default) or decode")->check(CLI::IsMember({"train", "decode"}));
  sub->add_option("--shape", request->shape_name,
                  fmt::format("named shape ({}); the numbers below change it (default demo-shallow)",
                              fmt::join(step_shape_names(), ", ")))
      ->check(CLI::IsMember(step_shape_names()));
  for (const auto& option : shape_options())
    sub->add_option(option.name, request->given.*option.member, option.description)->check(CLI::PositiveNumber);
  sub->add_option("--residual", request->scheme, "residual scheme (the reference is always post-ln)");
  sub->add_option("--device", request->device, "auto, cpu, cuda or cuda:N (default cpu)");
  sub->add_option("--precision", request->precision, "fp32, bf16 or fp16 (mixed precision; fp16 on GPUs)");
  sub->add_option("--rounds", request->rounds, "rounds, each timing the reference (if asked), headcount, then the "
                                               "--against shape (if given); medians are reported (default 1)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--against", request->against,
                  "a named shape timed in the same rounds, on the same batches (--batch, --source-length, "
                  "--target-length and --steps apply to it too), and this shape's time against it: the median of "
                  "the rounds' ratios (for example --shape demo-deep --against demo-shallow); peak_rss_mib is then the "
                  "process's, over both shapes")
      ->check(CLI::IsMember(step_shape_names()));
  sub->add_flag("--reference", request->reference,
                "also time the PyTorch-eager reference (bench/reference_step.py) on the same shape (train only)");
  sub->add_option("--python", request->python, "the Python that runs the reference (needs PyTorch; default python3)");
  sub->add_option("--reference-script", request->reference_script, "the reference script (default: found next to "
                                                                     "the program or under the current folder)");
  sub->add_flag("--no-peak", request->skip_peak,
                "do not measure the machine's peak (peak_gflops and mfu are then 0): for runs under an instruction "
                "counter such as callgrind, where the probe's JIT-compiled products take many minutes");
  sub->add_flag("--json", request->json, "one JSON object instead of a sentence");
  return {sub, [request, sub]() -> int {
            if (request->mode == "decode" && sub->count("--target-length") > 0)
              throw std::invalid_argument("--target-length: decode mode decodes as many tokens as the source has "
                                          "(--source-length)");
            BenchRequest bench;
            bench.mode = parse_bench_mode(request->mode);
            bench.shape = {shape_label(*request, *sub), resolve_shape(request->shape_name, *request, *sub, false)};
            if (!request->against.empty())
              bench.against = NamedShape{request->against, resolve_shape(request->against, *request, *sub, true)};
            bench.runtime = make_runtime(request->device, parse_precision(request->precision));
            bench.rounds = request->rounds;
            bench.reference = request->reference, bench.skip_peak = request->skip_peak;
            bench.python = request->python, bench.reference_script = request->reference_script;
            const auto result = run_bench(bench);
            std::cout << (request->json ? result.dump() : human_line(result)) << "\n";
            return 0;
          }};
}

}  // namespace headcount
