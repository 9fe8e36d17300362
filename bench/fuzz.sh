#!/usr/bin/env bash
# Runs every Go fuzz target of bulkguard for a set time and reports how long
# each ran clean. `go test ./...` (and .ci/run) already runs each target's
# seed corpus as ordinary tests; this script goes beyond the seeds.
#
#   bash bench/fuzz.sh                        # every target, 60s each
#   FUZZTIME=5m bash bench/fuzz.sh            # longer
#   bash bench/fuzz.sh FuzzOpenState          # only the named targets
#
# FUZZTIME is passed to -fuzztime (a duration such as 60s, or 100000x for a
# number of executions). FUZZMINIMIZETIME (default 5s) bounds how long the
# fuzzer spends shrinking each new interesting input: with Go's default of
# 60s, large seeds (the 1,000-deep query) stall the workers for most of a
# short run. A failing input is written under the package's
# testdata/fuzz/<target>/ by go test; the script stops at the end with exit
# status 1 and prints the tail of that target's output.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-60s}
minimize=${FUZZMINIMIZETIME:-5s}

# package and target, one per line: query decoding, canonical form and
# digest, sealed-state opening, tool-argument decoding.
all_targets="./schema FuzzDecode
./schema FuzzCanonicalStable
./guards FuzzOpenState
./tools FuzzToolArguments"

selected=()
while read -r pkg name; do
  if [ $# -eq 0 ]; then
    selected+=("$pkg $name")
    continue
  fi
  for want in "$@"; do
    if [ "$want" = "$name" ]; then
      selected+=("$pkg $name")
    fi
  done
done <<<"$all_targets"
if [ ${#selected[@]} -eq 0 ]; then
  echo "no such target: $*; known: $(echo "$all_targets" | awk '{print $2}' | tr '\n' ' ')" >&2
  exit 2
fi

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

echo "go: $(go version); cores: $(nproc); FUZZTIME=$fuzztime FUZZMINIMIZETIME=$minimize"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
failed=0
summary=()
for entry in "${selected[@]}"; do
  read -r pkg name <<<"$entry"
  log="$logdir/$name.log"
  echo "== $name ($pkg)"
  start=$(date +%s)
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" >"$log" 2>&1; then
    result=clean
  else
    result=FAILED
    failed=1
    tail -n 40 "$log"
  fi
  secs=$(($(date +%s) - start))
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
  corpus=$(grep -o 'total: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
  fuzzed=$(grep -o 'elapsed: [0-9hms.]*' "$log" | tail -n 1 | awk '{print $2}')
  line="| $name | $pkg | $result | ${fuzzed:-?} | ${secs}s | ${execs:-?} | ${corpus:-?} |"
  echo "$line"
  summary+=("$line")
done

echo
echo "| target | package | result | fuzzed for | wall (with build) | executions | corpus |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
exit $failed
