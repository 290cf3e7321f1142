#include "runtime/threads.h"

#include <omp.h>
#include <torch/torch.h>

namespace headcount {

void set_compute_threads(int threads) {
  torch::set_num_threads(threads);
  omp_set_num_threads(threads);
}

}  // namespace headcount
