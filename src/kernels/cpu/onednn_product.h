// oneDNN's float32 matrix product on the CPU, and the weight gradient built from it: the
// pieces under kernels/cpu/onednn_linear.h (one linear layer) and kernels/cpu/feed_forward_kernel.h
// (the feed-forward sub-layer's two), and the one file that calls oneDNN.
//
// Why oneDNN and not the BLAS: LibTorch 1.13 sends float32 products to the BLAS (OpenBLAS
// on Debian), which packs both operands into its own blocks on every call; at the thin
// shapes a deep single-head model is made of (one side 16-512) the packing and its threads
// cost as much as the multiply-adds (docs/benchmarks.md, "Linear layers through oneDNN").
//
// Built only where oneDNN's headers were found (Debian: libdnnl-dev) and LibTorch is the
// system's; elsewhere onednn_products_built() says no and the callers use torch::linear.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace headcount {

// Whether this program was built with oneDNN products.
bool onednn_products_built();

// A float32 matrix where it lies: element (i, j) at data[i * row_stride + j * column_stride].
// What the products inside a parallel region take, where tensor operations (views, narrow)
// would cost more than the arithmetic of a share.
struct MatrixView {
  float* data;
  int64_t rows, columns, row_stride, column_stride;

  MatrixView transposed() const { return {data, columns, rows, column_stride, row_stride}; }
  MatrixView row_block(int64_t first, int64_t count) const {
    return {data + first * row_stride, count, columns, row_stride, column_stride};
  }
};

// A 2-D CPU float32 tensor as a view (no copy: the tensor must outlive it).
MatrixView matrix_view(const torch::Tensor& t);

// out [m, n] = a [m, k] b [k, n] (+ bias [n]), then max(0, .) where relu is set (in the
// same pass, as oneDNN's post-operation). a and b with rows or columns dense (a transposed
// view is read in place), out with dense rows, bias dense or null. Called inside a
// parallel region, the product runs on the calling thread.
void onednn_product(const MatrixView& a, const MatrixView& b, const float* bias, const MatrixView& out,
                    bool relu = false);

// The same on tensors: CPU float32, a and b copied first unless their rows or columns are
// dense, out [m, n] with dense rows, bias contiguous or undefined.
void onednn_product(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias,
                    const torch::Tensor& out, bool relu = false);

// Into how many shares of rows a weight gradient gradient^T [out, m] rows [m, in] is
// split, each summed by one thread into a partial of its own (1: one product on all
// threads). oneDNN shares a product among threads by blocks of its result, so a small
// result (64 x 64 in the demo's deep model) ran on one thread while the other waited:
// 0.125 ms on one thread, 0.138 ms on two (docs/benchmarks.md, "Weight gradients split by
// rows"). Larger results (more than 512 x 512) have blocks for every thread, and their
// partials would cost memory; shares have at least 256 rows.
int64_t weight_gradient_shares(int64_t rows, int64_t weight_elements);

// Rows [first, first + count) of share s when m rows are split into shares.
inline std::pair<int64_t, int64_t> share_rows(int64_t m, int64_t shares, int64_t s) {
  const int64_t first = m * s / shares;
  return {first, m * (s + 1) / shares - first};
}

// sums[j] += the column sums of rows [count, width], row after row.
void add_column_sums(const float* rows, int64_t count, int64_t width, float* sums);

// weight_gradient [out, in] = gradient^T [out, m] rows [m, in] (gradient [m, out]), and
// where bias_gradient is given, the bias gradient: the column sums of gradient. Split
// into weight_gradient_shares shares of rows, their partials added in share order: the
// same thread count gives the same sums, bit for bit, another may differ in the last
// bits (as the BLAS's and oneDNN's own blockings do).
void onednn_weight_gradient(const torch::Tensor& gradient, const torch::Tensor& rows,
                            const torch::Tensor& weight_gradient, torch::Tensor* bias_gradient);

// The partials of a split weight gradient: one [out, in] matrix and one [out] column-sum
// row per share but the first (whose product goes straight into the gradient), then added
// in share order. For callers that run their shares in a parallel region of their own (the
// feed-forward kernel runs both layers' shares in one).
class WeightGradientShares {
 public:
  // weight_gradient [out, in] contiguous, written by the shares and finish.
  WeightGradientShares(int64_t shares, const torch::Tensor& weight_gradient, bool with_bias);
  // Share s's gradient^T rows: gradient [count, out] with dense rows of out, rows
  // [count, in]. From inside a parallel region, one share per call.
  void sum_share(int64_t s, const MatrixView& gradient, const MatrixView& rows);
  // After every share: weight_gradient holds the total, and the bias gradient is returned
  // (undefined without bias).
  torch::Tensor finish();

 private:
  int64_t shares_, out_, in_;
  bool with_bias_;
  torch::Tensor weight_gradient_;
  torch::Tensor scratch_;  // the shares' partials, then their column sums
};

}  // namespace headcount
