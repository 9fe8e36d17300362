#!/usr/bin/env bash
# Per-call overhead of get_bulk_delete over stdio and streamable HTTP against
# a bare mcp-go floor server doing the same GET (and the direct GET), the
# throughput of 50 concurrent HTTP clients against the floor's, the same
# read with 20 ms added by the sandbox (a Close that is a network away), and
# start-up time / idle memory of the bulkguard binary. Builds the binaries
# into a temporary directory, runs everything on loopback, and prints the
# tables.
#
#   --write          also rewrite the overhead, overhead-with-latency and
#                    startup sections of bench/results.md
#   --baseline REV   also build bulkguard at git revision REV (e.g. the commit
#                    before a change) and measure it in the same interleaved
#                    runs, for before/after figures
#   --no-latency     skip the 20 ms run
# Any other arguments go to the measuring program of the loopback run (e.g.
# -calls 500 -era legacy).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

write=() args=() baseline="" latency=1
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=(-write "$PWD/bench/results.md") ;;
    --baseline) baseline=$2; shift ;;
    --no-latency) latency=0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

go build -o "$tmp/bulkguard" .
go build -o "$tmp/overhead" ./bench/cmd/overhead
base=()
if [ -n "$baseline" ]; then
  mkdir "$tmp/baseline-src"
  git archive "$baseline" | tar -x -C "$tmp/baseline-src"
  (cd "$tmp/baseline-src" && go build -o "$tmp/bulkguard-baseline" .)
  base=(-baseline "$tmp/bulkguard-baseline" -baseline-name "$(git rev-parse --short "$baseline")")
fi

"$tmp/overhead" -bin "$tmp/bulkguard" "${base[@]}" "${write[@]}" "${args[@]}"
if [ "$latency" = 1 ]; then
  # A network away: 20 ms per answer, fewer calls (each takes 20 ms), the
  # legacy era, no start-up or throughput part.
  "$tmp/overhead" -bin "$tmp/bulkguard" "${base[@]}" "${write[@]}" \
    -latency 20ms -calls 300 -rounds 10 -warmup 20 -era legacy -startups 0 -clients 0
fi
