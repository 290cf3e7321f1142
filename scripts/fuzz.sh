#!/usr/bin/env bash
# Fuzzes every reader of outside input (tests/fuzz/*_fuzz.cpp: config, CMUdict, parallel
# text, TSV, vocabulary, the checkpoint header) with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, each for SECONDS (default 60), starting from the files that
# ship in the repository. Corpora grow in build-sanitize/fuzz/NAME/; a crash is written
# there as crash-* with the input that caused it, and the script ends non-zero.
#   bash scripts/fuzz.sh [SECONDS] [NAME ...]     # NAME: config, cmudict, tsv, ...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
names=("$@")
((${#names[@]})) || names=(config cmudict parallel_text tsv vocabulary checkpoint)
targets=()
for n in "${names[@]}"; do targets+=("${n}_fuzz"); done
HEADCOUNT_SANITIZE_BUILD_ONLY=1 bash scripts/sanitize.sh "${targets[@]}"

# Seeds: real files of each kind, cut to libFuzzer's input size, and the checkpoint
# header of a real model (tests/fuzz/seeds/).
seed() {  # seed NAME FILE...
  local name=$1
  shift
  mkdir -p "build-sanitize/fuzz/$name/seeds"
  for f in "$@"; do
    [[ -f $f ]] || continue
    { zcat -f "$f" || true; } | head -c 4000 >"build-sanitize/fuzz/$name/seeds/$(basename "$f")"
  done
}
seed config configs/*.yaml configs/presets/*.yaml
seed cmudict data/cmudict/*.gz
seed parallel_text data/cmudict/*.gz data/sotu/corpus/*.gz
seed tsv data/spam-assassin/*.gz data/sotu/party/*.gz
seed vocabulary tests/fuzz/seeds/*.vocab
seed checkpoint tests/fuzz/seeds/*.json

export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"
status=0
for n in "${names[@]}"; do
  dir="build-sanitize/fuzz/$n"
  mkdir -p "$dir/corpus"
  echo "fuzz: $n for ${seconds} s"
  (cd "$dir" && "../../${n}_fuzz" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
     corpus seeds >"run.log" 2>&1) || { status=1; echo "fuzz: $n FOUND A PROBLEM: see $dir/run.log and $dir/crash-*"; }
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done' "$dir/run.log" | tr '\n' ' '
  echo "corpus: $(ls "$dir/corpus" | wc -l) inputs"
done
exit $status
