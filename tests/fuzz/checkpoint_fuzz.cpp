// The header a checkpoint carries before its weights: the model config as JSON, checked
// before a single tensor is made (a corrupt one must never ask for terabytes). The file
// size given is what a real checkpoint of a small model would have.
#include "fuzz_input.h"
#include "model/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto config = headcount::checkpoint_model_config(std::string(reinterpret_cast<const char*>(data), size),
                                                           /*file_bytes=*/4u << 20, "fuzz.pt");
    headcount::Transformer model(config);  // within 4 MiB of weights: built, as load_checkpoint would
  } catch (const std::exception&) {
  }
  return 0;
}
