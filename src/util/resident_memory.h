// Resident memory of this process (Linux), for run summaries and benchmarks.
#pragma once

namespace headcount {

// Peak resident memory of this process so far, in MiB.
double peak_resident_mib();
// Resident memory now, in MiB.
double resident_mib();

}  // namespace headcount
