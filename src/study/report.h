// The comparison report: report.md from the typed rows (study/results.h), the findings
// computed from them (study/findings.h) and the figures (study/figures.h).
#pragma once

#include <string>

#include "study/results.h"

namespace headcount {

// Computes the findings and gains into results, draws the figures and writes
// out_dir/report.md (results.json is the caller's).
void write_report(StudyResults& results, const std::string& out_dir);

}  // namespace headcount
