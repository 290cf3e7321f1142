// Counts a program's OpenMP parallel regions and the wall time spent inside them, and
// prints both to stderr at exit. Loaded ahead of libgomp, it wraps GOMP_parallel, which
// GCC's OpenMP (LibTorch's and oneDNN's threads here) enters once per region. The time
// a training update spends outside every region is the calling thread's alone (operator
// dispatch, autograd, allocation) while the other threads wait (docs/benchmarks.md):
//   gcc -O2 -shared -fPIC bench/openmp_regions.c -o /tmp/openmp_regions.so -ldl
//   LD_PRELOAD=/tmp/openmp_regions.so build/headcount --threads 2 bench train --shape demo-deep --steps 60
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

static long regions;
static double seconds_inside;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef void (*parallel_fn)(void (*)(void*), void*, unsigned, unsigned);

void GOMP_parallel(void (*body)(void*), void* data, unsigned threads, unsigned flags) {
  static parallel_fn real;
  if (!real) real = (parallel_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
  const double start = now();
  real(body, data, threads, flags);
  seconds_inside += now() - start;
  ++regions;
}

__attribute__((destructor)) static void report(void) {
  fprintf(stderr, "openmp regions: %ld, seconds inside: %.3f\n", regions, seconds_inside);
}
