#include "study/bench.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/allocator.h"
#include "study/reference_step.h"
#include "study/throughput.h"
#include "util/enum_names.h"

namespace headcount {

namespace {

constexpr NamedValue<BenchMode> kBenchModes[] = {{BenchMode::Train, "train"}, {BenchMode::Decode, "decode"}};

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
}  // namespace

nlohmann::json run_bench(const BenchRequest& request) {
  if (request.reference && request.mode != BenchMode::Train)
    throw std::invalid_argument("--reference times training updates only: the reference has no decoding");
  if (request.reference && request.shape.shape.residual != ResidualScheme::PostLn)
    throw std::invalid_argument("--reference: the reference is post-ln only, so --residual " +
                                to_string(request.shape.shape.residual) + " would compare two different models");
  const bool training = request.mode == BenchMode::Train;
  const auto& shape = request.shape.shape;
  const auto& runtime = request.runtime;
  const StepShape* against = request.against ? &request.against->shape : nullptr;
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
      {"mode", to_string(request.mode)}, {"shape", shape_json(request.shape.name, shape)},
      {"parameters", timings.front().parameters}, {"step_ms", step_ms}, {"step_ms_rounds", rounds_ms},
      {"tokens_per_s", median(rounds_of(&StepTiming::tokens_per_s))}, {"gflops", gflops}, {"peak_gflops", peak},
      {"mfu", peak > 0 ? gflops / peak : 0.0}, {"threads", threads}, {"residual", to_string(shape.residual)},
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
  if (against) add_against(result, request.against->name, *against, against_timings, rounds_ms);
  return result;
}

std::string to_string(BenchMode mode) { return name_of(kBenchModes, mode); }
BenchMode parse_bench_mode(const std::string& name) { return parse_named(kBenchModes, name, "bench mode"); }

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace headcount
