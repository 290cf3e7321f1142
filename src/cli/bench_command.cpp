// headcount bench: speed measurements (never timed tests; results go to docs/benchmarks.md).
#include <fmt/format.h>
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "study/throughput.h"

namespace headcount {

Subcommand add_bench_command(CLI::App& app) {
  auto shape = std::make_shared<StepShape>();
  auto scheme = std::make_shared<std::string>("post-ln");
  auto device = std::make_shared<std::string>("cpu");
  auto precision = std::make_shared<std::string>("fp32");
  auto* sub = app.add_subcommand(
      "bench", "time one training update on random tokens (same shape arguments as bench/reference_step.py)");
  sub->add_option("--encoder-layers", shape->encoder_layers, "encoder layers");
  sub->add_option("--decoder-layers", shape->decoder_layers, "decoder layers");
  sub->add_option("--heads", shape->heads, "heads per layer");
  sub->add_option("--d-model", shape->d_model, "model width");
  sub->add_option("--head-dim", shape->head_dim, "width of one head");
  sub->add_option("--ffn", shape->ffn_dim, "FFN width");
  sub->add_option("--batch", shape->batch, "sentences per batch");
  sub->add_option("--source-length", shape->source_length, "source tokens per sentence");
  sub->add_option("--target-length", shape->target_length, "target tokens per sentence");
  sub->add_option("--steps", shape->steps, "timed updates (after two warm-up updates)");
  sub->add_option("--residual", *scheme, "residual scheme");
  sub->add_option("--device", *device, "auto, cpu, cuda or cuda:N (default cpu)");
  sub->add_option("--precision", *precision, "fp32, bf16 or fp16 (mixed precision; fp16 on GPUs)");
  return {sub, [shape, scheme, device, precision]() -> int {
            shape->residual = parse_residual_scheme(*scheme);
            const auto runtime = make_runtime(*device, parse_precision(*precision));
            auto timing = measure_training_step(*shape, runtime);
            std::cout << nlohmann::json{{"parameters", timing.parameters},
                                        {"step_ms", timing.step_ms},
                                        {"tokens_per_s", timing.tokens_per_s},
                                        {"threads", torch::get_num_threads()},
                                        {"residual", *scheme},
                                        {"device", runtime.device.str()},
                                        {"precision", to_string(runtime.precision)},
                                        {"peak_device_memory_mib", peak_device_memory_mib(runtime)}}
                             .dump()
                      << "\n";
            return 0;
          }};
}

}  // namespace headcount
