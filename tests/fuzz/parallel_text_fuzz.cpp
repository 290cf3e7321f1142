// One side of a parallel corpus, plain or gzip (read_lines tells them apart by their
// bytes), then both tokenizers that need no trained model, there and back.
#include "data/parallel_text.h"
#include "data/tokenizer.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = headcount::fuzz::input_path(".txt");
  static const auto characters = headcount::make_tokenizer("char"), words = headcount::make_tokenizer("space");
  try {
    for (const auto& line : headcount::read_lines(headcount::fuzz::write_input(path, data, size))) {
      characters->detokenize(characters->tokenize(line));
      words->detokenize(words->tokenize(line));
    }
  } catch (const std::exception&) {
  }
  return 0;
}
