// Tab-separated files as GLUE ships them (no quoting: a field ends at the next tab), plain
// or gzip, each row kept with its line number so that a problem can be named "file:line".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace headcount {

struct TsvRow {
  int64_t line = 0;  // 1-based, in the file
  std::vector<std::string> fields;
};

struct TsvFile {
  std::string path;
  std::vector<std::string> header;  // empty unless read with a header
  std::vector<TsvRow> rows;         // empty lines left out
};

// Throws std::runtime_error naming the file when it cannot be read.
TsvFile read_tsv(const std::string& path, bool has_header);

// Splits one line at every tab.
std::vector<std::string> split_tabs(const std::string& line);

}  // namespace headcount
