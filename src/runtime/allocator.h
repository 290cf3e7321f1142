// Which memory allocator serves this process's malloc and free.
//
// Why it matters: a training update allocates and frees the same activations every time.
// glibc's malloc maps a large block afresh and gives the top of its heap back to the kernel
// when enough of it is free, so each update page-faults its activations in again; with
// glibc, training updates took 1.17-1.27x as long as with tcmalloc, medians per shape
// (docs/benchmarks.md, "The memory allocator"). The build links tcmalloc
// (Debian's libgoogle-perftools-dev) into the program and the tests where it is found;
// `bench` reports which allocator a figure was measured with.
#pragma once

#include <string>

namespace headcount {

// "tcmalloc", "jemalloc" (either linked in or preloaded with LD_PRELOAD) or "glibc".
std::string memory_allocator_name();

}  // namespace headcount
