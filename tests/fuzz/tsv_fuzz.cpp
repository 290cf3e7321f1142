// A TSV file read in each GLUE task's layout and by named columns; the first byte picks the
// layout, the rest is the file.
#include "config/run_config.h"
#include "fuzz_input.h"
#include "task/labelled_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = headcount::fuzz::input_path(".tsv");
  static const char* tasks[] = {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli", "none"};
  if (size == 0) return 0;
  headcount::DataConfig d;
  d.glue_task = tasks[data[0] % 10];
  d.sentence1_column = "sentence";
  d.sentence2_column = data[0] & 0x10 ? "second" : "";
  d.label_column = "label";
  d.regression = data[0] & 0x20;
  d.bad_lines = data[0] & 0x40 ? "error" : "skip";
  try {
    headcount::read_labelled_tsv(headcount::fuzz::write_input(path, data + 1, size - 1), headcount::tsv_layout(d), d);
  } catch (const std::exception&) {
  }
  return 0;
}
