// Helpers shared by the tests: small model configs and a finite-difference gradient check.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>

#include "model/model_config.h"
#include "run/run_folder.h"

namespace headcount::testing {

inline ModelConfig tiny_config(ResidualScheme scheme, Architecture architecture = Architecture::EncoderDecoder) {
  ModelConfig c;
  c.architecture = architecture;
  c.d_model = 8;
  c.encoder = {2, 2, 0, 12};
  c.decoder = {2, 2, 0, 12};
  c.dropout = 0.0;
  c.residual = scheme;
  c.source_vocab_size = 11;
  c.target_vocab_size = 13;
  c.max_positions = 32;
  c.share_decoder_input_output_embed = false;
  return c;
}

inline const std::vector<ResidualScheme>& all_schemes() {
  static const std::vector<ResidualScheme> schemes{ResidualScheme::PostLn, ResidualScheme::PreLn,
                                                   ResidualScheme::Admin, ResidualScheme::AdminFixed,
                                                   ResidualScheme::DeepNorm};
  return schemes;
}

inline std::string scheme_test_name(const ::testing::TestParamInfo<ResidualScheme>& info) {
  auto name = to_string(info.param);
  for (auto& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

// Compares autograd's gradient of loss() with central differences, in double precision,
// at up to `samples` entries of each parameter. Returns the worst relative error seen.
// A new, empty folder under the temporary directory: PREFIX_NAME_PID, so that tests run side
// by side by CTest never share one.
inline std::string fresh_dir(const std::string& prefix, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (prefix + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A sentiment-like task in the named-column layout (train.tsv, dev.tsv, test.tsv: sentence,
// label pos/neg) and a small masked-LM corpus of its words (corpus.txt), in dir.
inline std::string write_sentiment_task(const std::string& dir) {
  std::mt19937 random(3);
  const std::vector<std::string> good{"fine", "great", "good", "nice"}, bad{"poor", "awful", "bad", "sad"};
  const std::vector<std::string> filler{"the", "film", "was", "a", "story", "of", "day"};
  for (auto [split, rows] : {std::pair{"train", 120}, std::pair{"dev", 20}, std::pair{"test", 20}}) {
    std::ofstream out(dir + "/" + split + ".tsv");
    out << "sentence\tlabel\n";
    for (int i = 0; i < rows; ++i) {
      const bool positive = random() % 2;
      std::string text;
      for (int w = 0; w < 6; ++w)
        text += (w ? " " : "") + (w == 3 ? (positive ? good : bad)[random() % 4] : filler[random() % filler.size()]);
      out << text << "\t" << (positive ? "pos" : "neg") << "\n";
    }
  }
  std::ofstream corpus(dir + "/corpus.txt");
  for (int d = 0; d < 30; ++d) {
    for (int line = 0; line < 4; ++line) {
      for (int w = 0; w < 8; ++w)
        corpus << (w ? " " : "") << (random() % 3 ? filler[random() % filler.size()] : (random() % 2 ? good : bad)[random() % 4]);
      corpus << ".\n";
    }
    corpus << "\n";
  }
  return dir;
}

// The train losses of a run folder's metrics.jsonl, in order.
inline std::vector<double> train_losses(const std::string& run_dir) {
  std::vector<double> losses;
  for (const auto& line : read_metrics(run_dir + "/metrics.jsonl"))
    if (line.at("kind") == "train") losses.push_back(line.at("train_loss").get<double>());
  return losses;
}

// The whole file as text ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline double max_gradient_error(const std::function<torch::Tensor()>& loss, const std::vector<torch::Tensor>& parameters,
                                 int samples = 12, double step = 1e-6) {
  for (auto p : parameters) p.mutable_grad() = torch::Tensor();
  loss().backward();
  double worst = 0;
  torch::NoGradGuard no_grad;
  for (auto p : parameters) {
    auto flat = p.view(-1);
    auto grad = p.grad().view(-1);
    const int64_t n = flat.numel();
    for (int s = 0; s < samples && s < n; ++s) {
      const int64_t i = (s * 7919) % n;
      const double original = flat[i].item<double>();
      flat[i] = original + step;
      const double up = loss().item<double>();
      flat[i] = original - step;
      const double down = loss().item<double>();
      flat[i] = original;
      const double numeric = (up - down) / (2 * step);
      const double analytic = grad[i].item<double>();
      const double error = std::abs(numeric - analytic) / std::max(1e-3, std::abs(numeric) + std::abs(analytic));
      worst = std::max(worst, error);
    }
  }
  return worst;
}

}  // namespace headcount::testing
