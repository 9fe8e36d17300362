#!/usr/bin/env bash
# Per-call overhead (get_bulk_delete over stdio and streamable HTTP against a
# direct GET and a bare mcp-go server) and start-up time / idle memory of
# the bulkguard binary. Builds both binaries into a temporary directory,
# runs everything on loopback, and prints the tables; pass --write to also
# rewrite the overhead and startup sections of bench/results.md. Any other
# arguments go to the measuring program (e.g. -calls 500 -era legacy).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=()
for a in "$@"; do
  if [ "$a" = "--write" ]; then
    args+=(-write "$PWD/bench/results.md")
  else
    args+=("$a")
  fi
done

go build -o "$tmp/bulkguard" .
go build -o "$tmp/overhead" ./bench/cmd/overhead
"$tmp/overhead" -bin "$tmp/bulkguard" "${args[@]}"
