// The embedded grapheme-to-phoneme task on CMUdict.
//
// Source tokens are the letters of a word (and its ' . - characters), target tokens its
// ARPABET phonemes. The split is by word, so all pronunciations of a word land in the
// same split: FNV-1a hash of the word modulo 100, below 90 train, below 95 valid, the
// rest test (about 90/5/5). Stress digits are removed unless keep_stress is set.
#pragma once

#include <string>

#include "data/parallel_text.h"

namespace headcount {

struct CmudictOptions {
  bool keep_stress = false;
};

// Throws naming the file and line of a malformed entry.
ParallelSplits load_cmudict(const std::string& path, const CmudictOptions& options);

// Which split a word belongs to: 0 train, 1 valid, 2 test.
int cmudict_split_of(const std::string& word);

}  // namespace headcount
