// The FFN's activation function, as the kernels and the model config name it.
#pragma once

namespace headcount {

enum class Activation { Relu, Gelu };

}  // namespace headcount
