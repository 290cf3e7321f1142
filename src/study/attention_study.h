// RQ1 in a comparison: for every architecture of the grid, its best finished run (by the
// test metric) is looked inside on the dev split (src/analysis/attention_analysis.h), so
// the report can set the shallow multi-head model's attention beside its reshapings'.
#pragma once

#include <vector>

#include "runtime/runtime.h"
#include "study/preset.h"
#include "study/results.h"

namespace headcount {

// runs: the grid's rows (results.runs), grid: the same runs' configs, in the same order.
std::vector<ArchitectureAttention> analyze_grid(const std::vector<RunRow>& runs, const std::vector<GridRun>& grid,
                                                const MetricInfo& metric, const Runtime& runtime);

}  // namespace headcount
