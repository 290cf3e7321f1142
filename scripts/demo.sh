#!/usr/bin/env bash
# The main job on the embedded data: sets up (if needed), builds, then runs the demo
# comparison on CMUdict: the shallow multi-head model against its single-head reshaping,
# post-ln against admin, into runs/demo/ (report.md, results.json, figures/).
# Re-running skips finished runs and resumes unfinished ones; it never starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/headcount compare --preset demo --out runs/demo "$@"
echo
sed -n '/^## Findings/,/^## Runs/p' runs/demo/report.md | sed '$d'
echo "full report: runs/demo/report.md"
