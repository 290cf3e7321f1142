// lane_sum(d, element): the sum over j < d of element(j), for the short rows of a narrow
// model, where one sum waits for another (LayerNorm: the variance needs the mean, the
// normalised row needs both).
//
// Why not `#pragma omp simd reduction(+ : sum)`: GCC finishes that reduction by storing the
// vector of partial sums and adding its lanes one by one, a chain of 16 dependent scalar
// adds, which at d = 64 costs more than the row's arithmetic when the next step waits for
// it. Here the partial sums are an array of kLanes that the compiler keeps in one vector
// register, added pairwise at the end (four steps of a few vector instructions each).
// Where the sums are independent of each other (the dot products of a product's outputs)
// the core overlaps the chains and this gains nothing: measured on thin_linear_rows, 1 row,
// 64-256 wide, it was no faster. The order of the additions depends only on d, never on
// the thread count. Always inlined, so the caller's vector clones (util/vector_clones.h)
// compile it for their own instruction set.
#pragma once

#include <cstdint>

namespace headcount {

constexpr int64_t kLanes = 16;

// The upper half of the first 2 * Width lanes added onto the lower.
template <int64_t Width, typename T>
[[gnu::always_inline]] inline void fold_lanes(T* lanes) {
  for (int64_t l = 0; l < Width; ++l) lanes[l] += lanes[l + Width];
}

template <typename T, typename Element>
[[gnu::always_inline]] inline T lane_sum(int64_t d, Element element) {
  T lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes)
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] += element(j + l);
  for (int64_t l = 0; j + l < d; ++l) lanes[l] += element(j + l);
  fold_lanes<kLanes / 2>(lanes);
  fold_lanes<kLanes / 4>(lanes);
  fold_lanes<kLanes / 8>(lanes);
  fold_lanes<kLanes / 16>(lanes);
  return lanes[0];
}

}  // namespace headcount
