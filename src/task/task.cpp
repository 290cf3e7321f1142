#include "task/task.h"

#include <fmt/format.h>

#include <stdexcept>

#include "util/enum_names.h"

namespace headcount {

namespace {
// "dev" is fairseq's and GLUE's name for the valid split.
constexpr NamedValue<Split> kSplits[] = {{Split::Train, "train"}, {Split::Valid, "valid"}, {Split::Valid, "dev"}, {Split::Test, "test"}};
}  // namespace

Split parse_split(const std::string& name) { return parse_named(kSplits, name, "split"); }
std::string to_string(Split split) { return name_of(kSplits, split); }

MetricInfo loss_metric() { return {"loss", "loss", /*lower_is_better=*/true}; }

}  // namespace headcount
