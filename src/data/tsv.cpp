#include "data/tsv.h"

#include "data/parallel_text.h"  // read_lines

namespace headcount {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t tab = line.find('\t'); tab != std::string::npos; tab = line.find('\t', start)) {
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
  fields.push_back(line.substr(start));
  return fields;
}

TsvFile read_tsv(const std::string& path, bool has_header) {
  TsvFile file;
  file.path = path;
  const auto lines = read_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (has_header && i == 0) {
      file.header = split_tabs(lines[i]);
      continue;
    }
    if (lines[i].empty()) continue;
    file.rows.push_back({static_cast<int64_t>(i + 1), split_tabs(lines[i])});
  }
  return file;
}

}  // namespace headcount
