// headcount bench: speed measurements (never timed tests; results go to docs/benchmarks.md).
// One training update or one decoding call on random tokens, for a named shape or numbers,
// with GFLOP/s against this machine's measured matrix-product peak, resident memory, and
// optionally the PyTorch-eager reference on the same shape, side by side in rounds.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/allocator.h"
#include "study/reference_step.h"
#include "study/throughput.h"

namespace headcount {
namespace {

struct BenchRequest {
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
StepShape resolve_shape(const std::string& name, const BenchRequest& request, const CLI::App& sub,
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
std::string shape_label(const BenchRequest& request, const CLI::App& sub) {
  const auto named = named_step_shape(request.shape_name);
  bool changed = false;
  for (const auto& option : shape_options())
    changed = changed || (sub.count(option.name) > 0 && std::string(option.name) != "--steps" &&
                          request.given.*option.member != named.*option.member);
  if (!changed) return request.shape_name;
  return sub.count("--shape") > 0 ? request.shape_name + ", changed" : "custom";
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

nlohmann::json shape_json(const std::string& name, const StepShape& s) {
  return {{"name", name},
          {"encoder_layers", s.encoder_layers}, {"decoder_layers", s.decoder_layers},
          {"heads", s.heads}, {"d_model", s.d_model}, {"head_dim", s.head_dim}, {"ffn_dim", s.ffn_dim},
          {"batch", s.batch}, {"source_length", s.source_length}, {"target_length", s.target_length},
          {"steps", s.steps}};
}

// The --against shape's figures and this shape's time against it: the median of the
// rounds' ratios, each of two timings taken next to each other, so a slow spell of the
// machine, which moves both, cancels out of it.
void add_against(nlohmann::json& result, const std::string& name, const StepShape& shape,
                 const std::vector<StepTiming>& timings, const std::vector<double>& rounds_ms) {
  std::vector<double> against_ms, ratios;
  for (size_t round = 0; round < timings.size(); ++round) {
    against_ms.push_back(timings[round].step_ms);
    ratios.push_back(rounds_ms[round] / timings[round].step_ms);
  }
  result["against"] = {{"shape", shape_json(name, shape)}, {"step_ms", median(against_ms)},
                       {"step_ms_rounds", against_ms}, {"parameters", timings.front().parameters}};
  result["time_ratio_to_against"] = median(ratios);
  result["time_ratio_to_against_rounds"] = ratios;
}

// Every round times the reference (when asked), then headcount, then the --against shape
// (when given), so a slow spell of the machine hits all; the figures are the medians over
// the rounds. A reference that fails is reported in the result (reference_error),
// headcount's own figures still are.
nlohmann::json run_bench(const BenchRequest& request, const std::string& label, const StepShape& shape,
                         const std::optional<StepShape>& against, const Runtime& runtime) {
  const bool training = request.mode == "train";
  const int threads = torch::get_num_threads();
  std::vector<StepTiming> timings, against_timings;
  std::vector<ReferenceTiming> references;
  std::string reference_error;
  const auto script = request.reference_script.empty() ? find_reference_script("") : request.reference_script;
  if (request.reference && script.empty())
    throw std::runtime_error("--reference: bench/reference_step.py not found next to the program or in the current "
                             "folder; name it with --reference-script");
  for (int64_t round = 0; round < request.rounds; ++round) {
    if (request.reference && reference_error.empty()) try {
        references.push_back(run_reference_step(shape, threads, runtime, request.python, script));
      } catch (const std::exception& e) {
        reference_error = e.what();
      }
    timings.push_back(training ? measure_training_step(shape, runtime) : measure_decoding(shape, runtime));
    if (against)
      against_timings.push_back(training ? measure_training_step(*against, runtime) : measure_decoding(*against, runtime));
  }
  // After the timed calls, so the peak device memory above is the model's, not the probe's.
  const double peak = request.skip_peak ? 0.0 : measure_matmul_peak_gflops(runtime);
  auto rounds_of = [&](auto field) {
    std::vector<double> values;
    for (const auto& t : timings) values.push_back(t.*field);
    return values;
  };
  const auto rounds_ms = rounds_of(&StepTiming::step_ms);
  const double step_ms = median(rounds_ms), gflops = median(rounds_of(&StepTiming::gflops));
  nlohmann::json result{
      {"mode", request.mode}, {"shape", shape_json(label, shape)},
      {"parameters", timings.front().parameters}, {"step_ms", step_ms}, {"step_ms_rounds", rounds_ms},
      {"tokens_per_s", median(rounds_of(&StepTiming::tokens_per_s))}, {"gflops", gflops}, {"peak_gflops", peak},
      {"mfu", peak > 0 ? gflops / peak : 0.0}, {"threads", threads}, {"residual", request.scheme},
      {"device", runtime.device.str()}, {"precision", to_string(runtime.precision)},
      {"allocator", memory_allocator_name()}, {"peak_rss_mib", timings.back().peak_resident_mib},
      {"rss_growth_mib", timings.back().resident_at_end_mib - timings.back().resident_after_warmup_mib},
      {"peak_device_memory_mib", timings.back().peak_device_memory_mib}};
  if (!reference_error.empty()) result["reference_error"] = reference_error;
  if (!references.empty()) {
    std::vector<double> reference_ms;
    for (const auto& r : references) reference_ms.push_back(r.step_ms);
    result["reference"] = {{"parameters", references.front().parameters}, {"step_ms", median(reference_ms)},
                           {"step_ms_rounds", reference_ms}};
    result["speedup_vs_reference"] = median(reference_ms) / step_ms;
  }
  if (against) add_against(result, request.against, *against, against_timings, rounds_ms);
  return result;
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
  auto request = std::make_shared<BenchRequest>();
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
            if (request->reference && request->mode != "train")
              throw std::invalid_argument("--reference times training updates only: the reference has no decoding");
            if (request->reference && request->scheme != "post-ln")
              throw std::invalid_argument("--reference: the reference is post-ln only, so --residual " +
                                          request->scheme + " would compare two different models");
            if (request->mode == "decode" && sub->count("--target-length") > 0)
              throw std::invalid_argument("--target-length: decode mode decodes as many tokens as the source has "
                                          "(--source-length)");
            const auto shape = resolve_shape(request->shape_name, *request, *sub, false);
            const auto runtime = make_runtime(request->device, parse_precision(request->precision));
            std::optional<StepShape> against;
            if (!request->against.empty()) against = resolve_shape(request->against, *request, *sub, true);
            const auto result = run_bench(*request, shape_label(*request, *sub), shape, against, runtime);
            std::cout << (request->json ? result.dump() : human_line(result)) << "\n";
            return 0;
          }};
}

}  // namespace headcount
