// Sentence pairs as space-separated tokens, split three ways. Every task (CMUdict,
// a user's parallel corpus) is read into this form before vocabularies and batches.
#pragma once

#include <string>
#include <vector>

namespace headcount {

struct ParallelText {
  std::vector<std::string> source, target;  // same length; tokens separated by spaces
  size_t size() const { return source.size(); }
};

struct ParallelSplits {
  ParallelText train, valid, test;
  const ParallelText& split(const std::string& name) const;  // "train", "valid"/"dev", "test"
};

// Reads a text file line by line (".gz" files are decompressed; a final "\r" of a line is
// dropped). Throws naming the file, and naming "file:line" for a line that is not valid
// UTF-8.
std::vector<std::string> read_lines(const std::string& path);

}  // namespace headcount
