#include "util/resident_memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace headcount {

double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  // Linux reports KiB, and updates its high-water mark lazily, so it can lag what
  // /proc/self/statm says is resident right now.
  return std::max(static_cast<double>(usage.ru_maxrss) / 1024.0, resident_mib());
}

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return static_cast<double>(resident_pages) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace headcount
