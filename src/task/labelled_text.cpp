#include "task/labelled_text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "data/tsv.h"

namespace headcount {

namespace {

const std::vector<TsvLayout>& glue_layouts() {
  static const std::vector<TsvLayout> layouts{
      {"cola", false, 3, -1, 1, 0, {"0", "1"}, false, "mcc"},
      {"sst2", true, 0, -1, 1, 0, {"0", "1"}, false, "accuracy"},
      {"mrpc", true, 3, 4, 0, 0, {"0", "1"}, false, "f1"},
      {"qqp", true, 3, 4, 5, 6, {"0", "1"}, false, "f1"},
      {"stsb", true, 7, 8, 9, 0, {}, true, "pearson"},
      {"mnli", true, 8, 9, -1, 0, {"contradiction", "entailment", "neutral"}, false, "accuracy"},
      {"qnli", true, 1, 2, 3, 0, {"entailment", "not_entailment"}, false, "accuracy"},
      {"rte", true, 1, 2, 3, 0, {"entailment", "not_entailment"}, false, "accuracy"},
      {"wnli", true, 1, 2, 3, 0, {"0", "1"}, false, "accuracy"},
  };
  return layouts;
}

int column_of(const TsvFile& file, const std::string& name, const std::string& key) {
  const auto it = std::find(file.header.begin(), file.header.end(), name);
  if (it == file.header.end())
    throw std::runtime_error(fmt::format("{}:1: no column '{}' ({}) in the header; its columns: {}", file.path, name, key,
                                         fmt::join(file.header, ", ")));
  return static_cast<int>(it - file.header.begin());
}

}  // namespace

bool is_glue_task(const std::string& name) {
  const auto& layouts = glue_layouts();
  return std::any_of(layouts.begin(), layouts.end(), [&](const TsvLayout& l) { return l.task == name; });
}

TsvLayout tsv_layout(const DataConfig& data) {
  for (const auto& layout : glue_layouts())
    if (layout.task == data.glue_task) return layout;
  if (data.glue_task != "none")
    throw std::invalid_argument(fmt::format(
        "data.glue_task '{}' is unknown: expected cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli or none",
        data.glue_task));
  TsvLayout named;
  named.task = "none";
  named.regression = data.regression;
  named.metric = data.regression ? "pearson" : "accuracy";
  return named;
}

LabelledFile read_labelled_tsv(const std::string& path, const TsvLayout& given, const DataConfig& data) {
  const auto file = read_tsv(path, given.header);
  TsvLayout layout = given;
  if (layout.task == "none") {
    layout.first = column_of(file, data.sentence1_column, "data.sentence1_column");
    layout.second = data.sentence2_column.empty() ? -1 : column_of(file, data.sentence2_column, "data.sentence2_column");
    layout.label = column_of(file, data.label_column, "data.label_column");
  }
  const size_t needed = static_cast<size_t>(std::max({layout.first, layout.second, layout.label}) + 1);
  LabelledFile out;
  for (const auto& row : file.rows) {
    const std::string where = fmt::format("{}:{}", path, row.line);
    if (row.fields.size() < layout.skip_rows_under) {
      ++out.skipped;
      continue;
    }
    if (row.fields.size() < needed)
      throw std::runtime_error(fmt::format("{}: expected at least {} tab-separated fields ({} layout), found {}", where,
                                           needed, layout.task == "none" ? "named columns" : layout.task,
                                           row.fields.size()));
    LabelledText text;
    text.first = row.fields[layout.first];
    if (std::all_of(text.first.begin(), text.first.end(), [](unsigned char c) { return std::isspace(c); })) {
      if (data.bad_lines == "error")
        throw std::runtime_error(fmt::format("{}: an empty text (set data.bad_lines: skip to leave such rows out)", where));
      ++out.skipped;
      continue;
    }
    if (layout.second >= 0) text.second = row.fields[layout.second];
    text.label = layout.label >= 0 ? row.fields[layout.label] : row.fields.back();
    text.where = where;
    out.rows.push_back(std::move(text));
  }
  return out;
}

}  // namespace headcount
