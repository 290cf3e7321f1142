#include "eval/classification_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace headcount {

namespace {
void check_sizes(size_t a, size_t b) {
  if (a != b) throw std::invalid_argument("predictions and labels differ in number");
}
}  // namespace

double accuracy(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels) {
  check_sizes(predictions.size(), labels.size());
  if (labels.empty()) return 0;
  int64_t right = 0;
  for (size_t i = 0; i < labels.size(); ++i) right += predictions[i] == labels[i];
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

double f1_score(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels, int64_t positive) {
  check_sizes(predictions.size(), labels.size());
  double true_positive = 0, false_positive = 0, false_negative = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool predicted = predictions[i] == positive, actual = labels[i] == positive;
    true_positive += predicted && actual;
    false_positive += predicted && !actual;
    false_negative += !predicted && actual;
  }
  const double denominator = 2 * true_positive + false_positive + false_negative;
  return denominator > 0 ? 2 * true_positive / denominator : 0.0;
}

double matthews_correlation(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                            int64_t classes) {
  check_sizes(predictions.size(), labels.size());
  // R_K = (c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)): c correct, s
  // samples, p_k predicted k, t_k truly k. For two classes it is the usual MCC.
  std::vector<double> predicted(classes, 0), actual(classes, 0);
  double correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    predicted.at(predictions[i]) += 1, actual.at(labels[i]) += 1;
    correct += predictions[i] == labels[i];
  }
  const double s = static_cast<double>(labels.size());
  double pt = 0, pp = 0, tt = 0;
  for (int64_t k = 0; k < classes; ++k) pt += predicted[k] * actual[k], pp += predicted[k] * predicted[k], tt += actual[k] * actual[k];
  const double denominator = std::sqrt((s * s - pp) * (s * s - tt));
  return denominator > 0 ? (correct * s - pt) / denominator : 0.0;
}

double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x.size(), y.size());
  if (x.size() < 2) return 0;
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson_correlation(average_ranks(x), average_ranks(y));
}

}  // namespace headcount
