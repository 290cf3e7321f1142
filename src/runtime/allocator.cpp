#include "runtime/allocator.h"

#include <dlfcn.h>

namespace headcount {

std::string memory_allocator_name() {
  // Each allocator exports entry points of its own besides malloc; whichever is loaded
  // first also serves malloc (symbol interposition), so its extra names are visible.
  if (dlsym(RTLD_DEFAULT, "tc_malloc") != nullptr) return "tcmalloc";
  if (dlsym(RTLD_DEFAULT, "mallocx") != nullptr) return "jemalloc";
  return "glibc";
}

}  // namespace headcount
