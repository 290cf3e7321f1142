#include "config/run_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <sstream>

#include "config/repeated_keys.h"
#include "util/enum_names.h"
#include "util/text.h"

namespace headcount {

namespace {
constexpr NamedValue<TaskKind> kTasks[] = {{TaskKind::Cmudict, "cmudict"},
                                           {TaskKind::Parallel, "parallel"},
                                           {TaskKind::MaskedLm, "masked-lm"},
                                           {TaskKind::Classification, "classification"}};
constexpr NamedValue<OptimizerKind> kOptimizers[] = {
    {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"}, {OptimizerKind::RAdam, "radam"}};
}  // namespace

std::string to_string(TaskKind task) { return name_of(kTasks, task); }
TaskKind parse_task_kind(const std::string& name) { return parse_named(kTasks, name, "task"); }
std::string to_string(OptimizerKind optimizer) { return name_of(kOptimizers, optimizer); }
OptimizerKind parse_optimizer_kind(const std::string& name) { return parse_named(kOptimizers, name, "optimizer"); }

namespace {

void describe_data_fields(DataConfig& d, FieldTable& t) {
  t.add_enum("data.task", d.task, values_of(kTasks), &parse_task_kind,
             "cmudict (grapheme-to-phoneme on the embedded CMUdict), parallel (translation, files named by the "
             "prefixes), masked-lm (pretraining on text files) or classification (TSV files, GLUE's among them)");
  t.add_string("data.train_prefix", d.train_prefix, "parallel: training files are PREFIX.SRC and PREFIX.TGT");
  t.add_string("data.valid_prefix", d.valid_prefix, "parallel: dev files");
  t.add_string("data.test_prefix", d.test_prefix, "parallel: test files (optional)");
  t.add_string("data.source_lang", d.source_lang, "parallel: source file suffix");
  t.add_string("data.target_lang", d.target_lang, "parallel: target file suffix");
  t.add_string("data.tokenizer", d.tokenizer, "parallel: char, space (already tokenized) or sentencepiece");
  t.add_integer("data.vocab_size", d.vocab_size, "sentencepiece: pieces per model (trained on the training side)");
  t.add_boolean("data.joint_vocabulary", d.joint_vocabulary, "one vocabulary for source and target");
  t.add_string("data.cmudict_path", d.cmudict_path, "CMUdict file (plain or .gz), relative to the working directory");
  t.add_boolean("data.keep_stress", d.keep_stress, "keep CMUdict's stress digits (AH0, AH1) as distinct phonemes");
  t.add_integer("data.max_tokens", d.max_tokens, "batch budget: examples x longest sequence in the batch");
  t.add_integer("data.max_length", d.max_length,
                "seq2seq: training examples longer than this (source or target) are skipped; masked-lm: tokens a "
                "sequence holds (<s> and </s> included); classification: inputs are cut to this many tokens");
  t.add_string("data.bad_lines", d.bad_lines,
               "skip (and count in the run log) or error: empty lines of a parallel corpus or a TSV, and seq2seq "
               "training examples longer than data.max_length");
  t.add_string_list("data.train_file", d.train_file,
                    "masked-lm: text files (a sentence a line, a blank line between documents), one or a list, read "
                    "as one corpus; classification: one TSV");
  t.add_string("data.valid_file", d.valid_file, "masked-lm, classification: the dev split");
  t.add_string("data.test_file", d.test_file, "masked-lm, classification: the test split (optional)");
  t.add_number("data.mask_probability", d.mask_probability, "masked-lm: share of each sequence's tokens predicted");
  t.add_number("data.random_token_probability", d.random_token_probability,
               "masked-lm: of the predicted tokens, the share replaced by a random token");
  t.add_number("data.leave_unmasked_probability", d.leave_unmasked_probability,
               "masked-lm: of the predicted tokens, the share left unchanged (the rest become <mask>)");
  t.add_boolean("data.whole_word_masking", d.whole_word_masking,
                "masked-lm: choose whole words (a piece starting with U+2581 starts a word), not pieces");
  t.add_string("data.glue_task", d.glue_task,
               "classification: the GLUE task whose TSV layout, labels and metric the files have (cola, sst2, mrpc, "
               "qqp, stsb, mnli, qnli, rte, wnli), or none for named columns");
  t.add_string("data.glue_dir", d.glue_dir,
               "classification: a GLUE task folder; unset split files default to its train.tsv and dev.tsv "
               "(MNLI: dev_matched.tsv, and dev_mismatched.tsv as test)");
  t.add_string("data.sentence1_column", d.sentence1_column, "classification, glue_task none: the header of the text column");
  t.add_string("data.sentence2_column", d.sentence2_column,
               "classification, glue_task none: the second text of a pair (empty: single sentences)");
  t.add_string("data.label_column", d.label_column, "classification, glue_task none: the header of the label column");
  t.add_boolean("data.regression", d.regression, "classification, glue_task none: the label is a number to predict");
  t.add_string("data.metric", d.metric,
               "classification: the primary metric (accuracy, f1, mcc, pearson, spearman); empty: GLUE's for the "
               "task, else accuracy (pearson for regression)");
  t.add_string("data.positive_label", d.positive_label, "classification: the class F1 is computed for (empty: 1 if a class, else the second class)");
}

void describe_train_fields(TrainConfig& r, FieldTable& t) {
  t.add_enum("train.optimizer", r.optimizer, values_of(kOptimizers), &parse_optimizer_kind,
             "adam, adamw (both LibTorch's) or radam");
  t.add_number("train.lr", r.lr, "peak learning rate, reached at the end of warmup");
  t.add_number("train.warmup_init_lr", r.warmup_init_lr, "learning rate at update 0");
  t.add_integer("train.warmup_updates", r.warmup_updates, "linear warmup length; inverse square root decay after");
  t.add_integer("train.decay_updates", r.decay_updates,
                "the last N updates of train.max_updates fall linearly to zero; 0: off");
  t.add_number("train.beta1", r.beta1, "Adam beta1");
  t.add_number("train.beta2", r.beta2, "Adam beta2");
  t.add_number("train.adam_eps", r.adam_eps, "Adam epsilon");
  t.add_number("train.weight_decay", r.weight_decay, "weight decay (decoupled for adamw)");
  t.add_number("train.label_smoothing", r.label_smoothing, "label smoothing of the cross-entropy");
  t.add_number("train.clip_norm", r.clip_norm, "clip the gradient norm to this; 0 turns clipping off");
  t.add_integer("train.max_updates", r.max_updates, "stop after this many updates; 0 for no limit");
  t.add_integer("train.max_epochs", r.max_epochs, "stop after this many epochs; 0 for no limit");
  t.add_number("train.max_minutes", r.max_minutes, "stop after this much wall time; 0 for no limit");
  t.add_integer("train.update_freq", r.update_freq, "batches whose gradients are summed into one update");
  t.add_integer("train.processes", r.processes,
                "data-parallel processes this command starts on this machine, each with its own batches of "
                "data.max_tokens (1 when torchrun or srun starts the ranks; docs/distributed.md)");
  t.add_integer("train.world_size", r.world_size,
                "ranks of a data-parallel group started by hand (with train.rank per process); 1: torchrun's or "
                "Slurm's variables, else train.processes");
  t.add_integer("train.rank", r.rank, "this process's rank when train.world_size > 1");
  t.add_integer("train.local_rank", r.local_rank,
                "this process's rank among those of its machine when train.world_size > 1 (its GPU); -1: 0");
  t.add_string("train.master_addr", r.master_addr,
               "host of rank 0, which serves the rendezvous store, when train.world_size > 1 (empty: 127.0.0.1)");
  t.add_integer("train.master_port", r.master_port,
                "its TCP port, when train.world_size > 1 or the launcher sets no MASTER_PORT");
  t.add_number("train.collective_timeout", r.collective_timeout,
               "seconds a rank waits in a collective (for a rank that died, hangs, or evaluates on dev) before it "
               "ends the run with an error");
  t.add_integer("train.log_every", r.log_every, "updates between train log lines");
  t.add_integer("train.valid_every", r.valid_every, "updates between dev evaluations");
  t.add_integer("train.valid_decode_limit", r.valid_decode_limit, "dev words decoded for WER/PER at each evaluation");
  t.add_integer("train.patience", r.patience, "dev evaluations without improvement before stopping; 0 turns it off");
  t.add_number("train.divergence_loss", r.divergence_loss, "a train loss above this ends the run as diverged");
  t.add_integer("train.seed", r.seed, "seed for initialisation, dropout and batch order");
  t.add_integer("train.average_last", r.average_last,
                "keep the checkpoints of the last K evaluations and average them at the end (test uses the average if its dev score is at least as good as the best checkpoint's); 0: off");
  t.add_string("train.init_from", r.init_from,
               "classification: a masked-LM run folder whose encoder weights and vocabulary to start from (its best "
               "checkpoint, else its last); empty: from scratch");
  t.add_string("train.device", r.device,
               "where the run computes: auto (a GPU when there is one, else the cpu), cpu, cuda or cuda:N; a "
               "data-parallel rank without an index takes GPU local rank % GPUs");
  t.add_enum("train.precision", r.precision, {Precision::Fp32, Precision::Bf16, Precision::Fp16}, &parse_precision,
             "what the products compute in: fp32; bf16 (cpu or GPU) or fp16 (GPU, with loss scaling) as mixed "
             "precision, the weights and the optimizer staying fp32");
}

void describe_eval_fields(EvalConfig& e, FieldTable& t) {
  t.add_integer("eval.beam", e.beam, "beam size for test decoding and translate (1: greedy); dev WER during training is greedy");
  t.add_number("eval.length_penalty", e.length_penalty, "beam scores are divided by length^length_penalty");
  t.add_number("eval.max_length_a", e.max_length_a, "longest output: a x source length + b");
  t.add_integer("eval.max_length_b", e.max_length_b, "longest output: a x source length + b");
  t.add_integer("eval.max_tokens", e.max_tokens, "decoding batch budget in source tokens x beam");
}

}  // namespace

void describe_fields(RunConfig& c, FieldTable& t) {
  describe_model_fields(c.model, t, "model");
  describe_data_fields(c.data, t);
  describe_train_fields(c.train, t);
  describe_eval_fields(c.eval, t);
}

// One value of a config file: key, text (a list's items joined by commas), line, whether
// it was written as a list.
struct YamlEntry {
  std::string key, value;
  int line;
  bool list;
};

// A YAML list of plain values, joined by commas (the form string-list fields hold).
static std::string joined_list(const YAML::Node& node, const std::string& path, int line, const std::string& key) {
  std::string out;
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty() || item.Scalar().find(',') != std::string::npos)
      throw ConfigError(fmt::format("{}:{}: key '{}': expected a list of names without commas", path, line, key));
    out += (out.empty() ? "" : ",") + item.Scalar();
  }
  if (out.empty()) throw ConfigError(fmt::format("{}:{}: key '{}' has an empty list", path, line, key));
  return out;
}

// Walks a YAML mapping into dotted keys, remembering where each value stands.
static void flatten(const YAML::Node& node, const std::string& prefix, const std::string& path,
                    std::vector<YamlEntry>& out) {
  for (const auto& item : node) {
    const std::string key = prefix.empty() ? item.first.as<std::string>() : prefix + "." + item.first.as<std::string>();
    const int line = item.first.Mark().line + 1;
    if (item.second.IsMap()) {
      flatten(item.second, key, path, out);
    } else if (item.second.IsScalar()) {
      out.push_back({key, item.second.Scalar(), line, false});
    } else if (item.second.IsNull()) {
      throw ConfigError(fmt::format("{}:{}: key '{}' has no value", path, line, key));
    } else {
      out.push_back({key, joined_list(item.second, path, line, key), line, true});
    }
  }
}

static void apply(const FieldTable& table, const std::string& key, const std::string& value,
                  const std::string& where) {
  const Field* field = table.find(key);
  if (!field) {
    auto hint = table.suggestion(key);
    throw ConfigError(fmt::format("{}: unknown key '{}'{}", where, key, hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  try {
    field->set(value);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("{}: key '{}': {}", where, key, e.what()));
  }
}

// A config file's text into config; name is the file's, for messages.
static void apply_yaml(const std::string& text, const std::string& name, const FieldTable& table) {
  int line = 1;
  for (size_t start = 0, end; start <= text.size(); start = end + 1, ++line) {
    end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    try {
      check_utf8(text.substr(start, end - start), fmt::format("{}:{}", name, line));
    } catch (const std::runtime_error& e) {
      throw ConfigError(e.what());
    }
  }
  YAML::Node root;
  std::vector<YamlEntry> entries;
  try {
    root = YAML::Load(text);
    if (!root.IsNull() && !root.IsMap()) throw ConfigError(fmt::format("{}: expected a mapping of keys at the top", name));
    refuse_repeated_keys(root, name);
    if (root.IsMap()) flatten(root, "", name, entries);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}:{}: not valid YAML: {}", name, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  for (const auto& e : entries) {
    const Field* field = table.find(e.key);
    if (e.list && field && field->type != "string list")
      throw ConfigError(fmt::format("{}:{}: key '{}' expects a single value, not a list", name, e.line, e.key));
    apply(table, e.key, e.value, fmt::format("{}:{}", name, e.line));
  }
}

RunConfig parse_config(const std::string& text, const std::string& name) {
  RunConfig config;
  FieldTable table;
  describe_fields(config, table);
  apply_yaml(text, name, table);
  return config;
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  RunConfig config;
  FieldTable table;
  describe_fields(config, table);
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
    apply_yaml(std::string(std::istreambuf_iterator<char>(in), {}), path, table);
  }
  for (const auto& o : overrides) {
    try {
      check_utf8(o, fmt::format("--set {}", o));
    } catch (const std::runtime_error& e) {
      throw ConfigError(e.what());
    }
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(fmt::format("--set '{}': expected key=value, for example train.max_updates=200", o));
    apply(table, o.substr(0, eq), o.substr(eq + 1), fmt::format("--set {}", o));
  }
  auto problems = validate(config);
  if (!problems.empty()) {
    std::string message = (path.empty() ? std::string("config") : path) + ": invalid configuration:";
    for (const auto& p : problems) message += "\n  " + p;
    throw ConfigError(message);
  }
  return config;
}

std::vector<std::string> validate(const RunConfig& c) {
  auto out = c.model.problems(/*check_vocabulary=*/false);
  const auto& t = c.train;
  const auto& d = c.data;
  if (d.bad_lines != "skip" && d.bad_lines != "error")
    out.push_back(fmt::format("data.bad_lines '{}' is unknown: expected skip or error", d.bad_lines));
  if (c.model.share_all_embeddings && !d.joint_vocabulary)
    out.push_back("model.share_all_embeddings needs data.joint_vocabulary: true");
  if (c.data.max_tokens < 1) out.push_back("data.max_tokens must be positive");
  if (c.data.max_length < 1) out.push_back("data.max_length must be positive");
  if (c.data.max_length + 2 > c.model.max_positions)
    out.push_back(fmt::format("data.max_length + 2 = {} exceeds model.max_positions = {}", c.data.max_length + 2,
                              c.model.max_positions));
  // Whether this machine has the device is checked when a run starts, so a GPU config can
  // be validated anywhere.
  try {
    check_device_name(t.device);
  } catch (const std::invalid_argument& e) {
    out.push_back(fmt::format("train.device: {}", e.what()));
  }
  if (t.precision == Precision::Fp16 && t.device == "cpu")
    out.push_back("train.precision fp16 needs a GPU (train.device cuda or auto); on the cpu use bf16");
  if (t.average_last < 0) out.push_back("train.average_last must not be negative");
  if (t.world_size < 1) out.push_back("train.world_size must be at least 1");
  if (t.world_size > 1 && (t.rank < 0 || t.rank >= t.world_size))
    out.push_back(fmt::format("train.rank {} must be from 0 to train.world_size - 1 = {}", t.rank, t.world_size - 1));
  if (t.master_port < 1 || t.master_port > 65535) out.push_back("train.master_port must be a TCP port, 1 to 65535");
  if (!(t.collective_timeout > 0)) out.push_back("train.collective_timeout must be positive (seconds)");
  if (c.eval.beam < 1) out.push_back("eval.beam must be at least 1");
  if (c.eval.max_length_b < 1 && c.eval.max_length_a <= 0) out.push_back("eval.max_length_b must be positive");
  if (c.eval.max_tokens < 1) out.push_back("eval.max_tokens must be positive");
  if (!(t.lr > 0)) out.push_back("train.lr must be positive");
  if (t.warmup_updates < 0) out.push_back("train.warmup_updates must not be negative");
  if (t.decay_updates < 0) out.push_back("train.decay_updates must not be negative");
  if (t.decay_updates > 0 && (t.max_updates <= 0 || t.decay_updates > t.max_updates))
    out.push_back(fmt::format("train.decay_updates {} needs train.max_updates at least as large (it is {})",
                              t.decay_updates, t.max_updates));
  if (!(t.beta1 >= 0 && t.beta1 < 1) || !(t.beta2 >= 0 && t.beta2 < 1)) out.push_back("train.beta1 and train.beta2 must be in [0, 1)");
  if (!(t.label_smoothing >= 0 && t.label_smoothing < 1)) out.push_back("train.label_smoothing must be in [0, 1)");
  if (t.clip_norm < 0) out.push_back("train.clip_norm must not be negative");
  if (t.update_freq < 1) out.push_back("train.update_freq must be at least 1");
  if (t.processes < 1) out.push_back("train.processes must be at least 1");
  if (t.max_updates <= 0 && t.max_epochs <= 0 && t.max_minutes <= 0)
    out.push_back("set at least one budget: train.max_updates, train.max_epochs or train.max_minutes");
  if (t.log_every < 1) out.push_back("train.log_every must be at least 1");
  if (t.valid_every < 1) out.push_back("train.valid_every must be at least 1");
  if (!(t.divergence_loss > 0)) out.push_back("train.divergence_loss must be positive");
  return out;
}

std::string to_yaml(const RunConfig& config_in) {
  RunConfig config = config_in;
  FieldTable table;
  describe_fields(config, table);
  // Fields are registered group by group, so nested maps open and close in order.
  YAML::Emitter emitter;
  emitter << YAML::BeginMap;
  std::vector<std::string> open;
  for (const auto& f : table.fields()) {
    std::vector<std::string> parts;
    std::stringstream ss(f.key);
    for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    for (; open.size() > common; open.pop_back()) emitter << YAML::EndMap;
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      emitter << YAML::Key << parts[i] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[i]);
    }
    emitter << YAML::Key << parts.back() << YAML::Value << f.get();
  }
  for (; !open.empty(); open.pop_back()) emitter << YAML::EndMap;
  emitter << YAML::EndMap;
  return std::string(emitter.c_str()) + "\n";
}

std::string config_markdown() {
  RunConfig config;
  FieldTable table;
  describe_fields(config, table);
  std::string out =
      "# Configuration keys\n\nEvery key a config file (YAML, nested by the dots) or `--set key=value` accepts.\n"
      "Generated by `build/headcount config --markdown`; do not edit by hand.\n\n"
      "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& f : table.fields())
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", f.key, f.type, f.get(), f.doc);
  out += "\n## Residual schemes (`model.residual`)\n\nN is the number of residual sub-layers of the stack; the "
         "formulas and their sources are in docs/method.md.\n\n" +
         residual_schemes_markdown();
  return out;
}

}  // namespace headcount
