// `headcount export` against outside readers: Python's safetensors reads every tensor back bit
// for bit, python/headcount_model.py gives headcount's scores for every scheme and
// architecture (1e-5), and transformers' BERT loads the hf export of every scheme that has an
// exact BERT form, of trained masked-LM runs and of a fine-tuned classifier (1e-4). The
// Python side runs in CMake's HEADCOUNT_REFERENCE_PYTHON (the torch2 lane's venv has the
// packages); where a package is absent those tests skip, saying which.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "export/bert_form.h"
#include "export/export_run.h"
#include "export/safetensors_file.h"
#include "config/run_config.h"
#include "model/checkpoint.h"
#include "test_support.h"
#include "train/trainer.h"
#include "util/process.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

// CMake's HEADCOUNT_REFERENCE_PYTHON, or the environment's of that name (a venv with the
// packages, beside a build made without it).
const std::string kPython = std::getenv("HEADCOUNT_REFERENCE_PYTHON") ? std::getenv("HEADCOUNT_REFERENCE_PYTHON")
                                                                      : HEADCOUNT_REFERENCE_PYTHON;
const std::string kCheck = std::string(HEADCOUNT_SOURCE_DIR) + "/tests/reference/check_export.py";

// Whether the reference Python imports every module named (checked once per set).
bool python_has(const std::string& modules) {
  static std::map<std::string, bool> known;
  auto it = known.find(modules);
  if (it != known.end()) return it->second;
  const bool has = std::system(fmt::format("{} -c 'import {}' > /dev/null 2>&1", kPython, modules).c_str()) == 0;
  return known[modules] = has;
}

#define SKIP_WITHOUT_PYTHON(modules)                                                                      \
  if (!python_has(modules))                                                                               \
  GTEST_SKIP() << kPython << " lacks " << (modules)                                                       \
               << ": the outside-reference tests run in the torch2 lane (scripts/torch2-setup.sh installs them)"

struct CheckResult {
  int status = 0;
  std::string output;
};

// check_export.py MODE with its paths; its output is logged beside the last path.
CheckResult run_check(const std::string& mode, const std::vector<std::string>& paths) {
  const auto log = paths.back() + ".log";
  fs::remove(log);
  std::vector<std::string> arguments{kPython, kCheck, mode};
  arguments.insert(arguments.end(), paths.begin(), paths.end());
  const int status = wait_for_process(start_process(arguments, log));
  return {status, testing::read_text(log)};
}

std::string temp_dir(const std::string& name) { return testing::fresh_dir("hc_export", name); }

// Weights away from their initial values, so that no LayerNorm gain of 1, zero bias or w of 1
// hides a mistake in a folding: every floating parameter gets noise, w lies in [0.5, 2].
void perturb(Transformer& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    auto& p = item.value();
    if (item.key().find("admin_scale") != std::string::npos)
      p.uniform_(0.5, 2.0);
    else
      p.add_(torch::randn_like(p) * 0.2);
  }
}

// A run folder holding only a checkpoint (and summary.json when finished).
std::string run_with(Transformer& model, const std::string& dir, int64_t update = 7) {
  fs::create_directories(dir);
  save_checkpoint(model, RunFolder(dir).checkpoint(CheckpointChoice::Best), {{"update", update}});
  return dir;
}

// Token ids with padding at the end of the second row, within vocab.
torch::Tensor ids(int64_t vocab, int64_t length, uint64_t seed) {
  torch::manual_seed(seed);
  auto t = torch::randint(3, vocab, {2, length}, torch::kLong);
  t.index_put_({1, torch::indexing::Slice(length - 2)}, 0);
  return t;
}

void write_expected(const std::string& path, const std::string& kind, double tolerance, const torch::Tensor& source,
                    const torch::Tensor& target, const torch::Tensor& output) {
  std::vector<NamedTensor> tensors;
  if (source.defined()) tensors.emplace_back("source", source);
  if (target.defined()) tensors.emplace_back("target_input", target);
  tensors.emplace_back("output", output.to(torch::kFloat));
  write_safetensors(path, tensors, {{"kind", kind}, {"tolerance", fmt::format("{}", tolerance)}});
}

// headcount's scores for the model's kind, as the exported model is checked against them.
struct Scores {
  std::string kind;
  torch::Tensor source, target, output;
};
Scores headcount_scores(Transformer& model) {
  model->eval();
  torch::NoGradGuard no_grad;
  const auto& c = model->config();
  Scores s;
  if (c.architecture == Architecture::EncoderDecoder) {
    s.kind = "seq2seq";
    s.source = ids(c.source_vocab_size, 6, 1), s.target = ids(c.target_vocab_size, 5, 2);
    s.output = model->logits(model->decode(s.target, model->encode(s.source), s.source));
  } else if (c.architecture == Architecture::Decoder) {
    s.kind = "decoder";
    s.target = ids(c.target_vocab_size, 7, 3);
    s.output = model->logits(model->decode(s.target, {}, {}));
  } else {
    s.source = ids(c.source_vocab_size, 9, 4);
    auto hidden = model->encode(s.source);
    if (c.head == Head::MaskedLm) {
      s.kind = "masked-lm";
      s.output = model->masked_lm_logits(hidden, torch::arange(hidden.size(0) * hidden.size(1)))
                     .reshape({hidden.size(0), hidden.size(1), -1});
    } else {
      s.kind = "classification";
      s.output = model->classify(hidden);
    }
  }
  return s;
}

// Exports run_dir as format and writes headcount's own scores beside it: the export and
// the file of scores, as check_export.py takes them.
std::vector<std::string> export_with_scores(Transformer& model, const std::string& run_dir, ExportFormat format,
                                            double tolerance) {
  const auto out = run_dir + "-" + to_string(format);
  std::ostringstream log;
  ExportRequest request;
  request.run_dir = run_dir, request.out_dir = out, request.format = format;
  export_run(request, log);
  const auto scores = headcount_scores(model);
  const auto expected = run_dir + "-expected.safetensors";
  write_expected(expected, scores.kind, tolerance, scores.source, scores.target, scores.output);
  return {out, expected};
}

// Checks every export of pairs in one Python process (importing torch and transformers takes
// seconds): each within its tolerance, named in the output.
void expect_checks_pass(const std::string& mode, const std::vector<std::string>& pairs) {
  const auto check = run_check(mode, pairs);
  EXPECT_EQ(check.status, 0) << check.output;
  for (size_t k = 0; k < pairs.size(); k += 2)
    EXPECT_NE(check.output.find(pairs[k] + ": max_abs_diff"), std::string::npos) << pairs[k] << "\n" << check.output;
  EXPECT_EQ(check.output.find("FAILED"), std::string::npos) << check.output;
}

// ---- safetensors ----

TEST(Safetensors, PythonsReaderAndWriterAgreeWithOursBitForBit) {
  SKIP_WITHOUT_PYTHON("safetensors.torch");
  const auto dir = temp_dir("roundtrip");
  torch::manual_seed(5);
  const std::vector<NamedTensor> tensors{
      {"a.weight", torch::randn({3, 5})},
      {"b", torch::randn({4, 2}).to(torch::kBFloat16)},
      {"c", torch::randn({7}).to(torch::kHalf)},
      {"d", torch::randn({2, 2, 2}, torch::kDouble)},
      {"ids", torch::randint(-1000, 1000, {6}, torch::kLong)},
      {"mask", torch::randint(0, 2, {3, 1}, torch::kLong).to(torch::kBool)},
      {"empty", torch::zeros({0, 3})},
      {"scalar", torch::tensor(3.5)},
      {"odd", torch::randint(0, 255, {3}, torch::kByte)},  // leaves the next tensor unaligned
      {"after_odd", torch::randn({2})},
  };
  write_safetensors(dir + "/ours.safetensors", tensors, {{"format", "pt"}, {"note", "ü \"quoted\""}});
  const auto check = run_check("roundtrip", {dir + "/ours.safetensors", dir + "/theirs.safetensors"});
  ASSERT_EQ(check.status, 0) << check.output;
  const auto back = read_safetensors(dir + "/theirs.safetensors");
  EXPECT_EQ(back.metadata.at("note"), "ü \"quoted\"");
  ASSERT_EQ(back.tensors.size(), tensors.size());
  std::map<std::string, torch::Tensor> by_name(back.tensors.begin(), back.tensors.end());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(by_name.count(name)) << name;
    const auto& b = by_name[name];
    EXPECT_EQ(b.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(b.sizes(), t.sizes()) << name;
    // Bytes, not values: NaN payloads and signed zeros count.
    EXPECT_EQ(std::memcmp(b.data_ptr(), t.data_ptr(), t.numel() * t.element_size()), 0) << name;
  }
}

TEST(Safetensors, ReaderRefusesTornAndLyingFiles) {
  const auto dir = temp_dir("corrupt");
  const auto good = dir + "/good.safetensors";
  write_safetensors(good, {{"w", torch::randn({4, 4})}});
  const auto bytes = testing::read_text(good);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir + "/" + name, std::ios::binary) << content;
    return dir + "/" + name;
  };
  std::string huge = bytes;
  huge[7] = '\x7f';  // a header length of exabytes
  std::string lying = bytes;
  const auto at = lying.find("64]");  // the data range [0,64] -> [0,94]
  ASSERT_NE(at, std::string::npos);
  lying.replace(at, 2, "94");
  for (const auto& [name, content, expect] :
       {std::tuple<std::string, std::string, std::string>{"short", bytes.substr(0, 5), "shorter than"},
        {"torn", bytes.substr(0, bytes.size() - 10), "data_offsets"},
        {"huge", huge, "header of"},
        {"lying", lying, "data_offsets"}}) {
    try {
      read_safetensors(write(name, content));
      ADD_FAILURE() << name << " was read";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << name << ": " << e.what();
    }
  }
}

// ---- the PyTorch loader, every scheme and architecture ----

TEST(ExportLoader, PythonModelGivesHeadcountsScoresForEverySchemeAndArchitecture) {
  SKIP_WITHOUT_PYTHON("torch, safetensors");
  const auto dir = temp_dir("loader");
  std::vector<std::string> pairs;
  int index = 0;
  for (auto scheme : testing::all_schemes()) {
    for (auto architecture : {Architecture::EncoderDecoder, Architecture::Encoder, Architecture::Decoder}) {
      auto config = testing::tiny_config(scheme, architecture);
      // Between the cases: sinusoidal and learned positions, with and without the embedding
      // norm, tied and separate output weights, single heads narrower than d / heads, both
      // encoder heads, both activations.
      config.learned_positions = index % 2 == 0;
      config.embedding_norm = index % 3 != 0;
      config.share_decoder_input_output_embed = index % 4 < 2;
      if (index % 5 == 0) config.encoder = config.decoder = {3, 1, 4, 6};
      if (architecture == Architecture::Encoder) config.head = index % 2 ? Head::MaskedLm : Head::Classification;
      if (config.head == Head::Classification) config.classes = 3;
      config.activation = index % 2 ? Activation::Gelu : Activation::Relu;
      Transformer model(config);
      perturb(model, 10 + index);
      const auto name = fmt::format("{}/{}_{}", dir, to_string(scheme), to_string(architecture));
      for (auto& path : export_with_scores(model, run_with(model, name), ExportFormat::Safetensors, 1e-5))
        pairs.push_back(path);
      ++index;
    }
  }
  ASSERT_EQ(pairs.size(), 30u);
  expect_checks_pass("loader", pairs);
}

// ---- Hugging Face's BERT ----

TEST(ExportBert, EveryFoldableSchemeLoadsInTransformersWithHeadcountsLogits) {
  SKIP_WITHOUT_PYTHON("torch, safetensors, transformers");
  const auto dir = temp_dir("bert");
  std::vector<std::string> pairs;
  int index = 0;
  for (auto scheme : {ResidualScheme::PostLn, ResidualScheme::Admin, ResidualScheme::AdminFixed, ResidualScheme::DeepNorm}) {
    for (auto head : {Head::MaskedLm, Head::Classification}) {
      // narrow: one head of 4 in a d 8 layer, padded to BERT's width 8.
      for (bool narrow : {false, true}) {
        auto config = testing::tiny_config(scheme, Architecture::Encoder);
        config.embedding_norm = true;
        config.activation = Activation::Gelu;
        config.learned_positions = head == Head::Classification;  // sinusoidal tables become BERT's learned one
        config.share_decoder_input_output_embed = true;
        config.head = head;
        config.classes = head == Head::Classification ? 3 : 0;
        if (narrow) config.encoder = {4, 1, 4, 6};
        Transformer model(config);
        perturb(model, 20 + index++);
        const auto name = fmt::format("{}/{}_{}{}", dir, to_string(scheme), to_string(head), narrow ? "_narrow" : "");
        for (auto& path : export_with_scores(model, run_with(model, name), ExportFormat::HuggingFace, 1e-4))
          pairs.push_back(path);
      }
    }
  }
  expect_checks_pass("hf", pairs);
}

TEST(ExportBert, ModelsWithoutAnExactBertFormAreRefusedWithTheReason) {
  struct Case {
    std::function<void(ModelConfig&)> change;
    std::string reason;
  };
  const std::vector<Case> cases{
      {[](ModelConfig& c) { c.residual = ResidualScheme::PreLn; }, "pre-ln scheme normalises each sub-layer's input"},
      {[](ModelConfig& c) { c.embedding_norm = false; }, "without model.embedding_norm"},
      {[](ModelConfig& c) { c.architecture = Architecture::EncoderDecoder; }, "is not an encoder"},
      {[](ModelConfig& c) { c.activation = Activation::Relu; }, "masked-LM head uses the model's activation"},
      {[](ModelConfig& c) { c.encoder = {2, 2, 5, 12}; }, "do not fit BERT's heads"},
  };
  const auto dir = temp_dir("refused");
  for (size_t i = 0; i < cases.size(); ++i) {
    auto config = testing::tiny_config(ResidualScheme::PostLn, Architecture::Encoder);
    config.embedding_norm = true, config.activation = Activation::Gelu, config.head = Head::MaskedLm;
    cases[i].change(config);
    if (config.architecture != Architecture::Encoder) config.head = Head::None;
    Transformer model(config);
    const auto run = run_with(model, fmt::format("{}/run{}", dir, i));
    ExportRequest request;
    request.run_dir = run, request.out_dir = run + "-hf", request.format = ExportFormat::HuggingFace;
    std::ostringstream log;
    try {
      export_run(request, log);
      ADD_FAILURE() << "case " << i << " was exported";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(cases[i].reason), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--format safetensors"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(request.out_dir)) << "case " << i;
    // The safetensors export of the same model is always possible.
    request.format = ExportFormat::Safetensors, request.out_dir = run + "-st";
    EXPECT_NO_THROW(export_run(request, log)) << "case " << i;
  }
}

// ---- real runs: masked-LM pretraining (post-ln, admin, its 8L-1H reshaping) and fine-tuning ----


RunConfig run_config(const std::vector<std::string>& model, std::vector<std::string> rest) {
  std::vector<std::string> overrides{"model.architecture=encoder", "model.d_model=16", "model.dropout=0.1",
                                     "model.activation=gelu", "model.embedding_norm=true",
                                     "model.learned_positions=true", "model.max_positions=40"};
  overrides.insert(overrides.end(), model.begin(), model.end());
  overrides.insert(overrides.end(), rest.begin(), rest.end());
  return load_config("", overrides);
}

TEST(ExportBert, TrainedMaskedLmRunsAndAFineTunedClassifierLoadInTransformers) {
  SKIP_WITHOUT_PYTHON("torch, safetensors, transformers");
  const auto dir = temp_dir("trained");
  testing::write_sentiment_task(dir);
  const std::vector<std::string> mlm{"data.task=masked-lm", "data.train_file=" + dir + "/corpus.txt",
                                     "data.valid_file=" + dir + "/corpus.txt", "data.vocab_size=30",
                                     "data.max_length=24", "data.max_tokens=200", "train.max_updates=6",
                                     "train.valid_every=6", "train.warmup_updates=2"};
  const std::vector<std::string> shallow{"model.encoder.layers=2", "model.encoder.heads=4", "model.encoder.ffn_dim=32"};
  const std::vector<std::string> deep{"model.encoder.layers=8", "model.encoder.heads=1", "model.encoder.head_dim=4",
                                      "model.encoder.ffn_dim=8"};
  std::ostringstream log;
  std::vector<std::string> pairs;
  for (const auto& [name, model, scheme] :
       {std::tuple{std::string("post_ln"), shallow, std::string("post-ln")}, std::tuple{std::string("admin"), shallow, std::string("admin")},
        std::tuple{std::string("8L_1H_admin"), deep, std::string("admin")}}) {
    SCOPED_TRACE(name);
    auto rest = mlm;
    rest.push_back("model.residual=" + scheme);
    const auto config = run_config(model, rest);
    const auto run = dir + "/" + name;
    ASSERT_EQ(train({config, run, false, 0}, log).at("status"), "finished") << log.str();
    auto trained = load_checkpoint(RunFolder(run).checkpoint(CheckpointChoice::Best)).model;
    for (auto& path : export_with_scores(trained, run, ExportFormat::HuggingFace, 1e-4)) pairs.push_back(path);
  }
  const auto classify = run_config(shallow, {"data.task=classification", "data.train_file=" + dir + "/train.tsv",
                                       "data.valid_file=" + dir + "/dev.tsv", "data.test_file=" + dir + "/test.tsv",
                                       "data.max_length=24", "data.max_tokens=200", "train.init_from=" + dir + "/admin",
                                       "train.max_updates=4", "train.valid_every=4", "train.warmup_updates=0",
                                       "model.residual=admin"});
  const auto classifier = dir + "/classifier";
  ASSERT_EQ(train({classify, classifier, false, 0}, log).at("status"), "finished") << log.str();
  auto trained = load_checkpoint(RunFolder(classifier).checkpoint(CheckpointChoice::Best)).model;
  for (auto& path : export_with_scores(trained, classifier, ExportFormat::HuggingFace, 1e-4)) pairs.push_back(path);
  ASSERT_EQ(pairs.size(), 8u);
  expect_checks_pass("hf", pairs);
  const auto config = read_json_file(classifier + "-hf/config.json");
  EXPECT_EQ(config.at("id2label").at("0"), "neg");
  EXPECT_EQ(config.at("id2label").at("1"), "pos");
  EXPECT_EQ(config.at("headcount").at("run_finished"), true);
  for (const char* file : {"source.vocab", "labels.txt", "sentencepiece.model", "run_config.yaml"})
    EXPECT_TRUE(fs::exists(classifier + "-hf/" + file)) << file;
}

// ---- bad input ----

TEST(Export, BadRunsAndOccupiedFoldersAreRefusedAndNothingIsOverwritten) {
  const auto dir = temp_dir("bad");
  std::ostringstream log;
  ExportRequest request;
  auto expect_refused = [&](const std::string& what, const std::string& message) {
    try {
      export_run(request, log);
      ADD_FAILURE() << what << " was exported";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << what << ": " << e.what();
    }
  };
  // A run with no checkpoint.
  fs::create_directories(dir + "/empty");
  request.run_dir = dir + "/empty", request.out_dir = dir + "/out";
  expect_refused("no checkpoint", "no checkpoint; the run has not saved one yet");
  EXPECT_FALSE(fs::exists(dir + "/out"));
  // Only checkpoint_last.pt: best is named, and last offered.
  Transformer model(testing::tiny_config(ResidualScheme::Admin));
  fs::create_directories(dir + "/lastonly");
  save_checkpoint(model, RunFolder(dir + "/lastonly").checkpoint(CheckpointChoice::Last), {{"update", 3}});
  request.run_dir = dir + "/lastonly";
  expect_refused("no best", "no checkpoint_best.pt (--checkpoint best); checkpoint_last.pt exists");
  // A corrupt checkpoint.
  fs::create_directories(dir + "/corrupt");
  std::ofstream(RunFolder(dir + "/corrupt").checkpoint(CheckpointChoice::Best)) << "not a checkpoint";
  request.run_dir = dir + "/corrupt";
  expect_refused("corrupt", "checkpoint_best.pt");
  EXPECT_FALSE(fs::exists(dir + "/out"));
  // An --out that holds a file: refused, the file untouched.
  request.run_dir = dir + "/lastonly", request.checkpoint = CheckpointChoice::Last;
  fs::create_directories(dir + "/occupied");
  std::ofstream(dir + "/occupied/keep.txt") << "mine";
  request.out_dir = dir + "/occupied";
  expect_refused("occupied", "holds files already (keep.txt among them)");
  EXPECT_EQ(testing::read_text(dir + "/occupied/keep.txt"), "mine");
  // An unfinished run (no summary.json): exported, with a note naming its update.
  request.out_dir = dir + "/out";
  const auto result = export_run(request, log);
  EXPECT_EQ(result.update, 3);
  EXPECT_FALSE(result.run_finished);
  EXPECT_NE(log.str().find("has not finished training; this is its state at update 3"), std::string::npos) << log.str();
  // config.json records the scheme and every residual weight; the tensors are the model's.
  const auto config = read_json_file(dir + "/out/config.json");
  EXPECT_EQ(config.at("model").at("encoder").at("layers"), 2);
  EXPECT_EQ(config.at("residual").at("scheme"), "admin");
  EXPECT_EQ(config.at("residual").at("encoder_weights").size(), 4u);
  EXPECT_EQ(config.at("residual").at("decoder_weights").size(), 6u);
  const auto contents = read_safetensors(dir + "/out/model.safetensors");
  const auto parameters = model->named_parameters();
  int64_t matched = 0;
  for (const auto& [name, tensor] : contents.tensors)
    if (parameters.contains(name)) matched += torch::equal(tensor, parameters[name]);
  EXPECT_EQ(matched, static_cast<int64_t>(parameters.size()));
  // No temporary folder is left beside --out.
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace headcount
