// The comparison report: tables, findings computed from the numbers, and figures drawn by
// gnuplot (data files and plot scripts kept beside the SVGs, so users can restyle them).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace headcount {

// The findings in plain words, each computed from results' runs and inference table:
// stability per architecture and scheme (the paper's RQ3), the deeper model against the
// shallow one seed by seed, with the same scheme and each with its best one (RQ4), whether
// that gain grows with the heads unrolled (RQ5), training and decoding speed. Returns
// {"findings": [sentences], "gain_vs_heads": [{scheme, heads, unrolled, gain, sd, seeds}]}.
nlohmann::json study_findings(const nlohmann::json& results);

// results: what compare collected (see compare.cpp). Writes report.md and figures/*, and
// stores the findings and gains in results.
void write_report(nlohmann::json& results, const std::string& out_dir);

}  // namespace headcount
