// The report's figures, drawn by gnuplot as SVG: dev loss against updates, the dev metric
// against wall time, the gain against heads unrolled, and decoding speed. Each figure's data
// (figures/data/*.dat) and script (figures/NAME.gp) stay beside it, so a user can restyle
// or redraw it (`gnuplot NAME.gp` in figures/).
#pragma once

#include <string>
#include <vector>

#include "study/results.h"

namespace headcount {

// The names of the figures, in the report's order.
const std::vector<std::string>& figure_names();

// Writes every figure the results have data for into figures_dir; returns notes on the
// figures gnuplot could not draw.
std::vector<std::string> write_figures(const StudyResults& results, const std::string& figures_dir);

}  // namespace headcount
