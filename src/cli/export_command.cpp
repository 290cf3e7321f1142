// headcount export: a trained run's model as safetensors or as Hugging Face's BERT.
#include <iostream>

#include "cli/commands.h"
#include "export/export_run.h"

namespace headcount {

Subcommand add_export_command(CLI::App& app) {
  struct Options {
    std::string run, out, checkpoint = "best", format = "safetensors", dtype = "float32";
  };
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand(
      "export", "write a run's model for other tools: safetensors + config.json (any model; python/headcount_model.py "
                "loads it), or hf (transformers' BERT, for encoders that have an exact BERT form); docs/export.md");
  sub->add_option("--run", options->run, "run folder")->required();
  sub->add_option("--out", options->out, "new (or empty) folder to write")->required();
  sub->add_option("--checkpoint", options->checkpoint, "best, last or average");
  sub->add_option("--format", options->format, "safetensors or hf");
  sub->add_option("--dtype", options->dtype, "float32, bfloat16 or float16 (safetensors only)");
  return {sub, [options]() -> int {
            ExportRequest request;
            request.run_dir = options->run;
            request.out_dir = options->out;
            request.checkpoint = parse_checkpoint_choice(options->checkpoint);
            request.format = parse_export_format(options->format);
            if (options->dtype == "float32")
              request.dtype = torch::kFloat;
            else if (options->dtype == "bfloat16")
              request.dtype = torch::kBFloat16;
            else if (options->dtype == "float16")
              request.dtype = torch::kHalf;
            else
              throw std::invalid_argument("--dtype " + options->dtype + ": expected float32, bfloat16 or float16");
            const auto result = export_run(request, std::cout);
            for (const auto& file : result.files) std::cout << "  " << file << "\n";
            return 0;
          }};
}

}  // namespace headcount
