// HEADCOUNT_VECTOR_CLONES before a hot element-wise loop's function: the compiler builds it
// three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 with FMA) and the baseline x86-64
// the program is compiled for, and the loader picks one by the CPU it runs on. Why: the
// dropout mask's hash multiplies 32-bit integers, which baseline x86-64 (SSE2) cannot do in
// vector registers; with AVX2 the residual step's forward row loop runs about 4x faster,
// and the attention kernel's dot products and scaled adds want FMA and, where the CPU has
// them, 16-lane registers (docs/benchmarks.md). Elsewhere (other architectures, other
// compilers, and clang, which refuses multiversioned templates) it is nothing, and the loops
// run as the build flags allow.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX2__)
#define HEADCOUNT_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HEADCOUNT_VECTOR_CLONES
#endif
