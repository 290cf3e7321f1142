// A run folder's vocabulary file (source.vocab, target.vocab).
#include "data/vocabulary.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = headcount::fuzz::input_path(".vocab");
  try {
    const auto vocabulary = headcount::Vocabulary::load(headcount::fuzz::write_input(path, data, size));
    vocabulary.decode(vocabulary.encode("a b <unk> <s>"));
  } catch (const std::exception&) {
  }
  return 0;
}
