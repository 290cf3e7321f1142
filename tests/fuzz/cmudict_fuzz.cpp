// A CMUdict file: entries, alternatives WORD(2), comments, stress digits.
#include "data/cmudict.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = headcount::fuzz::input_path(".dict");
  try {
    headcount::load_cmudict(headcount::fuzz::write_input(path, data, size), {size % 2 == 0});
  } catch (const std::exception&) {
  }
  return 0;
}
