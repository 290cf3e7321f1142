// The comparison report: tables, findings computed from the numbers, and figures drawn by
// gnuplot (data files and plot scripts kept beside the SVGs, so users can restyle them).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace headcount {

// results: what compare collected (see compare.cpp). Writes report.md, figures/*.
// Returns the findings (one sentence each), also stored in results["findings"].
void write_report(nlohmann::json& results, const std::string& out_dir);

}  // namespace headcount
