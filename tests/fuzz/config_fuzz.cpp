// A config file's text: YAML, UTF-8, keys, types and every validation rule.
#include "config/run_config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto config = headcount::parse_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    headcount::validate(config);
    headcount::to_yaml(config);
  } catch (const std::exception&) {
  }
  return 0;
}
