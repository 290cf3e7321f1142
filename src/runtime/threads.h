// The number of CPU threads this process computes with, set once for every library that
// keeps its own count.
#pragma once

namespace headcount {

// LibTorch's intra-op threads (torch::set_num_threads) and the OpenMP runtime headcount is
// compiled against, which runs the hand-written kernels' parallel loops and oneDNN's
// products. With Debian's LibTorch both are the one system libgomp; a PyTorch wheel's
// LibTorch carries a copy of its own, whose count would not reach them.
void set_compute_threads(int threads);

}  // namespace headcount
