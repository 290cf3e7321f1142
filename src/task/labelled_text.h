// Labelled text for classification, read from TSV files in GLUE's layouts or by named
// columns. Each GLUE task's files have their own layout (the columns of google-research/bert's
// run_classifier.py and fairseq's GLUE preprocessing):
//   task   header  sentence 1  sentence 2  label      labels                              metric
//   cola   no      3           -           1          0 1                                 mcc
//   sst2   yes     0           -           1          0 1                                 accuracy
//   mrpc   yes     3           4           0          0 1                                 f1
//   qqp    yes     3           4           5          0 1 (rows under 6 fields skipped)    f1
//   stsb   yes     7           8           9          a score 0-5                         pearson
//   mnli   yes     8           9           last       contradiction entailment neutral    accuracy
//   qnli   yes     1           2           3          entailment not_entailment           accuracy
//   rte    yes     1           2           3          entailment not_entailment           accuracy
//   wnli   yes     1           2           3          0 1                                 accuracy
// "none": a header naming the columns (data.sentence1_column, data.sentence2_column,
// data.label_column), labels from the training file (or a number with data.regression).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/run_config.h"

namespace headcount {

struct LabelledText {
  std::string first, second;  // second empty for single sentences
  std::string label;
  std::string where;  // "file:line", for messages
};

struct TsvLayout {
  std::string task;  // "cola" ... or "none"
  bool header = true;
  int first = 0, second = -1, label = 1;  // column indices; second -1: none; label -1: the last
  size_t skip_rows_under = 0;             // rows with fewer fields are skipped, not errors (QQP)
  std::vector<std::string> labels;        // the classes in index order; empty: from the training file
  bool regression = false;
  std::string metric;  // the primary metric GLUE reports for the task
};

// The layout of data.glue_task (named columns resolved against a file's header later).
// Throws std::invalid_argument for an unknown task name.
TsvLayout tsv_layout(const DataConfig& data);
bool is_glue_task(const std::string& name);

struct LabelledFile {
  std::vector<LabelledText> rows;
  int64_t skipped = 0;  // rows left out: QQP's short rows, and empty texts (data.bad_lines: skip)
};

// Throws std::runtime_error naming the file and line of a row that does not fit the layout.
LabelledFile read_labelled_tsv(const std::string& path, const TsvLayout& layout, const DataConfig& data);

}  // namespace headcount
