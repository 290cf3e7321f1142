#include "task/task.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "util/enum_names.h"

namespace headcount {

namespace {
// "dev" is fairseq's and GLUE's name for the valid split.
constexpr NamedValue<Split> kSplits[] = {{Split::Train, "train"}, {Split::Valid, "valid"}, {Split::Valid, "dev"}, {Split::Test, "test"}};
}  // namespace

Split parse_split(const std::string& name) { return parse_named(kSplits, name, "split"); }
std::string to_string(Split split) { return name_of(kSplits, split); }

std::pair<int64_t, int64_t> example_range(int64_t n, int64_t first, int64_t count) {
  const int64_t begin = std::clamp<int64_t>(first, 0, n);
  return {begin, count > 0 ? std::min(n, begin + count) : n};
}

MetricInfo loss_metric() { return {"loss", "loss", /*lower_is_better=*/true, kNoLearningBound, /*unit=*/""}; }

}  // namespace headcount
