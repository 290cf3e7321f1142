// The report's findings in plain words, each computed from the rows of a comparison:
// stability per architecture and scheme (the paper's RQ3), the deeper model against the
// shallow one seed by seed, with the same scheme and each with its best one (RQ4), whether
// that gain grows with the heads unrolled (RQ5), and training and decoding speed.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "study/results.h"

namespace headcount {

struct Findings {
  std::vector<std::string> sentences;
  std::vector<Gain> gains;  // for the gain-against-heads figure
};

Findings study_findings(const StudyResults& results);

// The findings on one downstream task: the grid's stability and equal-size comparisons on
// the fine-tuned models (paired by pretraining and fine-tuning seed), and for each
// architecture and scheme, fine-tuned from pretraining against trained from scratch (paired
// by fine-tuning seed, the pretraining seeds averaged).
std::vector<std::string> downstream_findings(const StudyResults& results, const DownstreamResults& downstream);

// The grid's head counts (most first, so the shallow model leads) and schemes (in the
// preset's order).
struct GridAxes {
  std::set<int64_t, std::greater<>> heads;
  std::vector<std::string> schemes;
};
GridAxes grid_axes(const StudyResults& results);

// "12L-1H" for a head count of the grid ("?" when no run has it).
std::string architecture_of(const StudyResults& results, int64_t heads);

// Mean and sample standard deviation.
struct Spread {
  int64_t n = 0;
  double mean = 0, sd = 0;
};
Spread spread_of(const std::vector<double>& values);

}  // namespace headcount
