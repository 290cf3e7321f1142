#include "task/task.h"

#include <fmt/format.h>

#include <stdexcept>

namespace headcount {

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "valid" || name == "dev") return Split::Valid;
  if (name == "test") return Split::Test;
  throw std::invalid_argument(fmt::format("unknown split '{}': expected train, valid or test", name));
}

std::string to_string(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Valid: return "valid";
    case Split::Test: return "test";
  }
  return "?";
}

MetricInfo loss_metric() { return {"loss", "loss", /*lower_is_better=*/true}; }

}  // namespace headcount
