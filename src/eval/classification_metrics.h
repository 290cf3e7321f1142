// Scores of class predictions and regression outputs, as GLUE uses them:
//   accuracy                 share of predictions equal to the label
//   f1                       F1 of one class (the positive one) against the rest
//   matthews_correlation     MCC (CoLA); for more than two classes, Gorodkin's R_K
//   pearson, spearman        correlation of scores (STS-B); Spearman on ranks, ties
//                            sharing their average rank
// Degenerate inputs (no examples, a constant column) give 0, as scikit-learn does for MCC.
#pragma once

#include <cstdint>
#include <vector>

namespace headcount {

double accuracy(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels);
double f1_score(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels, int64_t positive);
double matthews_correlation(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                            int64_t classes);
double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y);
double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y);
// 1-based ranks, tied values sharing the mean of the ranks they span.
std::vector<double> average_ranks(const std::vector<double>& values);

}  // namespace headcount
