#include "analysis/attention_maps.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace headcount {

std::vector<std::string> write_attention_maps(Transformer& model, const Batch& example, const std::string& out_dir) {
  const fs::path out(out_dir), data = out / "data";
  fs::create_directories(data);
  Batch one = example;
  one.source = example.source.narrow(0, 0, 1);
  if (example.target_input.defined()) one.target_input = example.target_input.narrow(0, 0, 1);
  AttentionRecorder recorder;
  {
    torch::NoGradGuard no_grad;
    const bool was_training = model->is_training();
    model->eval();
    if (model->encoder) model->encoder->attach_recorder(&recorder, "encoder");
    if (model->decoder) model->decoder->attach_recorder(&recorder, "decoder");
    torch::Tensor memory;
    if (model->encoder) memory = model->encode(one.source);
    if (model->decoder && one.target_input.defined()) model->decode(one.target_input, memory, one.source);
    if (model->encoder) model->encoder->attach_recorder(nullptr, "encoder");
    if (model->decoder) model->decoder->attach_recorder(nullptr, "decoder");
    model->train(was_training);
  }
  auto real = [](const torch::Tensor& tokens) { return tokens.defined() ? tokens.ne(kPaddingIndex).sum().item<int64_t>() : 0; };
  const int64_t source_length = real(one.source), target_length = real(one.target_input);
  // One figure per (stack, kind): panels layer x head.
  std::map<std::string, std::vector<const AttentionRecorder::Entry*>> figures;
  for (const auto& e : recorder.entries) figures[e.stack + "_" + e.kind].push_back(&e);
  std::vector<std::string> written;
  for (const auto& [name, entries] : figures) {
    const int64_t heads = entries.front()->probabilities.size(1);
    std::string plots;
    for (const auto* e : entries) {
      const bool encoder = e->stack == "encoder" && model->encoder;
      const int64_t rows = encoder ? source_length : target_length;
      const int64_t columns = encoder || e->kind == "cross" ? source_length : target_length;
      for (int64_t h = 0; h < heads; ++h) {
        const auto file = fmt::format("attention_{}_layer{}_head{}.dat", name, e->layer, h);
        std::ofstream dat(data / file);
        const auto p = e->probabilities[0][h].to(torch::kDouble);
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t j = 0; j < columns; ++j) dat << (j ? " " : "") << p[i][j].item<double>();
          dat << "\n";
        }
        plots += fmt::format("set title 'layer {} head {}'\nset xrange [-0.5:{}]\nset yrange [{}:-0.5]\n"
                             "plot 'data/{}' matrix with image notitle\n",
                             e->layer + 1, h + 1, columns - 0.5, rows - 0.5, file);
      }
    }
    const auto layers = static_cast<int64_t>(entries.size());
    std::ofstream(out / (fmt::format("attention_{}.gp", name)))
        << fmt::format("set terminal svg size {},{} dynamic background rgb 'white' font 'sans,10'\n", 260 * heads + 60,
                       220 * layers + 60)
        << "set termoption noenhanced\n"
        << fmt::format("set output 'attention_{}.svg'\n", name)
        << "set palette grey negative\nset cbrange [0:1]\nunset colorbox\nset size ratio -1\n"
        << "set xlabel 'key position'\nset ylabel 'query position'\n"
        << fmt::format("set multiplot layout {},{} title 'attention, {} (query rows, key columns; darker = more)'\n", layers,
                       heads, name)
        << plots << "unset multiplot\n";
    const auto command = fmt::format("cd '{}' && gnuplot 'attention_{}.gp' > /dev/null 2>&1", out.string(), name);
    if (std::system(command.c_str()) == 0) written.push_back((out / fmt::format("attention_{}.svg", name)).string());
  }
  return written;
}

}  // namespace headcount
