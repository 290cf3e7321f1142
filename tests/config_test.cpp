// Configuration: YAML plus --set overrides, with errors that name file, line and key.
#include <filesystem>
#include <fstream>

#include "config/run_config.h"
#include "study/preset.h"
#include "task/task_factory.h"
#include "util/field_table.h"
#include "test_support.h"

namespace headcount {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(path, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, YamlAndOverridesFillTheTypedStruct) {
  auto path = write_temp("hc_config_ok.yaml",
                         "model:\n  d_model: 64\n  residual: admin\n  encoder:\n    layers: 12\n    heads: 1\n"
                         "train:\n  lr: 0.0005\n");
  auto c = load_config(path, {"train.max_updates=77", "model.encoder.ffn_dim=64", "data.keep_stress=true"});
  EXPECT_EQ(c.model.d_model, 64);
  EXPECT_EQ(c.model.residual, ResidualScheme::Admin);
  EXPECT_EQ(c.model.encoder.layers, 12);
  EXPECT_EQ(c.model.encoder.heads, 1);
  EXPECT_EQ(c.model.encoder.ffn_dim, 64);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.0005);
  EXPECT_EQ(c.train.max_updates, 77);
  EXPECT_TRUE(c.data.keep_stress);
}

TEST(Config, ResolvedYamlReadsBackToTheSameConfig) {
  auto c = load_config("", {"model.residual=deepnorm", "train.lr=0.002", "model.decoder.layers=9"});
  auto path = write_temp("hc_config_roundtrip.yaml", to_yaml(c));
  auto again = load_config(path, {});
  EXPECT_EQ(to_yaml(again), to_yaml(c));
  EXPECT_EQ(again.model.residual, ResidualScheme::DeepNorm);
  EXPECT_EQ(again.model.decoder.layers, 9);
}

TEST(Config, ErrorsNameFileLineKeyAndExpectation) {
  auto path = write_temp("hc_config_bad.yaml", "model:\n  d_model: 64\n  encoder:\n    heads: four\n");
  auto message = error_of(path);
  EXPECT_NE(message.find(path + ":4"), std::string::npos) << message;
  EXPECT_NE(message.find("model.encoder.heads"), std::string::npos) << message;
  EXPECT_NE(message.find("expected an integer, got 'four'"), std::string::npos) << message;

  path = write_temp("hc_config_unknown.yaml", "train:\n  lr: 0.001\n  max_update: 5\n");
  message = error_of(path);
  EXPECT_NE(message.find(":3: unknown key 'train.max_update'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'train.max_updates'"), std::string::npos) << message;

  path = write_temp("hc_config_syntax.yaml", "model:\n  d_model: [1, 2\n");
  EXPECT_NE(error_of(path).find("not valid YAML"), std::string::npos);
  EXPECT_NE(error_of("/nonexistent.yaml").find("cannot open"), std::string::npos);
}

// A key said twice is refused, naming the file, both lines and the key, in configs (at any
// depth) and in presets; before, one of the two values won unseen.
TEST(Config, AKeyGivenTwiceIsRefusedWithBothLines) {
  auto path = write_temp("hc_config_twice.yaml", "model:\n  d_model: 64\ntrain:\n  lr: 0.1\n  seed: 3\n  lr: 0.2\n");
  EXPECT_EQ(error_of(path), path + ":6: key 'train.lr' is given twice (first at line 4)");
  path = write_temp("hc_config_twice_section.yaml", "train:\n  lr: 0.1\nmodel:\n  d_model: 64\ntrain:\n  seed: 2\n");
  EXPECT_EQ(error_of(path), path + ":5: key 'train' is given twice (first at line 1)");
  // The same name in two sections is two keys.
  path = write_temp("hc_config_twice_ok.yaml", "model:\n  encoder: {layers: 2}\n  decoder: {layers: 2}\n");
  EXPECT_EQ(error_of(path), "");
  const auto preset = write_temp("hc_preset_twice.yaml",
                                 "config: configs/g2p-tiny.yaml\nschemes: [admin]\nset:\n  train.lr: 0.1\n"
                                 "  train.lr: 0.2\n");
  try {
    load_preset(preset);
    FAIL() << "a preset with a key given twice was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), preset + ":5: key 'set.train.lr' is given twice (first at line 4)");
  }
}

TEST(Config, AListFieldTakesAYamlListOrCommasAndOtherFieldsRefuseLists) {
  auto path = write_temp("hc_config_list.yaml", "data:\n  task: masked-lm\n  train_file: [a.txt, b/c.txt.gz]\n");
  auto c = load_config(path, {});
  EXPECT_EQ(c.data.train_file, "a.txt,b/c.txt.gz");
  EXPECT_EQ(split_list(c.data.train_file), (std::vector<std::string>{"a.txt", "b/c.txt.gz"}));
  EXPECT_EQ(load_config("", {"data.train_file=x.txt,y.txt"}).data.train_file, "x.txt,y.txt");
  // The resolved file writes the list in the form it reads back.
  EXPECT_EQ(load_config(write_temp("hc_config_list_again.yaml", to_yaml(c)), {}).data.train_file, c.data.train_file);

  path = write_temp("hc_config_not_list.yaml", "train:\n  lr: [0.1, 0.2]\n");
  auto message = error_of(path);
  EXPECT_NE(message.find(path + ":2: key 'train.lr' expects a single value, not a list"), std::string::npos) << message;
  message = error_of(write_temp("hc_config_empty_item.yaml", "data:\n  train_file: [a.txt, [b]]\n"));
  EXPECT_NE(message.find(":2: key 'data.train_file': expected a list of names"), std::string::npos) << message;
  EXPECT_NE(error_of("", {"data.train_file=a.txt,,b.txt"}).find("expected names separated by commas"),
            std::string::npos);
  // Classification reads one TSV.
  const auto problems = task_problems(load_config(
      "", {"data.task=classification", "data.train_file=a.tsv,b.tsv", "data.valid_file=d.tsv", "model.architecture=encoder"}));
  EXPECT_EQ(problems, std::vector<std::string>{"data.train_file names 2 files; classification reads one TSV"});
}

TEST(Config, ValidationCatchesInconsistentValues) {
  auto message = error_of("", {"model.encoder.heads=3"});  // 512 is not divisible by 3
  EXPECT_NE(message.find("model.encoder.heads = 3 does not divide model.d_model = 512"), std::string::npos) << message;
  EXPECT_NE(error_of("", {"model.residual=postln"}).find("expected one of post-ln"), std::string::npos);
  EXPECT_NE(error_of("", {"train.lr"}).find("expected key=value"), std::string::npos);
  EXPECT_NE(error_of("", {"model.dropout=1.5"}).find("model.dropout must be in [0, 1)"), std::string::npos);
  EXPECT_NE(error_of("", {"train.max_updates=100", "train.decay_updates=200"})
                .find("train.decay_updates 200 needs train.max_updates at least as large (it is 100)"),
            std::string::npos);
}

TEST(Config, DocsTableListsEveryKeyAsTheCodeDefinesIt) {
  std::ifstream in(std::string(HEADCOUNT_SOURCE_DIR) + "/docs/config.md");
  const std::string docs((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(docs, config_markdown()) << "regenerate: build/headcount config --markdown > docs/config.md";
}

}  // namespace
}  // namespace headcount
