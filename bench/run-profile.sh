#!/usr/bin/env bash
# CPU profiles of the paths results.md discusses, written to bench/*.prof
# (git-ignored), with the top of each printed:
#   preview-1m.prof  preview_bulk_delete over 1,000,000 leads (the slowest call)
#   get.prof         get_bulk_delete in-process (bulkguard's per-call overhead)
#   bare-get.prof    the same GET through a bare mcp-go server (its floor)
#   get-stdio.prof, floor-stdio.prof  the same two over in-memory stdio pipes
#                    with the go-sdk client (JSON-RPC encoding included)
# Inspect further with: go tool pprof -http :0 bench/<name>.prof
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prof() { # name bench-regexp benchtime pprof-args...
  local name=$1 re=$2 bt=$3
  shift 3
  go test -run '^$' -bench "$re" -benchtime "$bt" -timeout 30m \
    -o "$tmp/bench.test" -cpuprofile "bench/$name.prof" ./bench
  echo "== $name (bench/$name.prof)"
  go tool pprof -top -cum -nodecount 30 "$@" "$tmp/bench.test" "bench/$name.prof" 2>/dev/null | sed -n '4,40p'
}

# Seeding a million leads dominates that process's profile; focus on the
# request handling (sandbox search and bulkguard's tool call).
prof preview-1m '^BenchmarkPreview$/^leads=1000000$' 30x -focus 'ServeHTTP|handleToolCall'
prof get '^BenchmarkGet$/^bulkguard/legacy$' 20000x -focus 'handleToolCall|HandleMessage'
prof bare-get '^BenchmarkGet$/^bare-get/legacy$' 20000x -focus 'handleToolCall|HandleMessage'
prof get-stdio '^BenchmarkGetStdio$/^bulkguard$' 8000x -focus 'handleToolCall|HandleMessage|toolCallWorker'
prof floor-stdio '^BenchmarkGetStdio$/^floor$' 8000x -focus 'handleToolCall|HandleMessage|toolCallWorker'
