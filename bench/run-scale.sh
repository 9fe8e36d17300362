#!/usr/bin/env bash
# Scale: preview_bulk_delete over 10,000 / 100,000 / 1,000,000 sandbox leads
# (a three-condition query, and a query matching every lead), and a full
# delete of 100,000 leads through the tools at the sandbox's unlimited delete
# rate. In-process MCP client, sandbox over loopback HTTP. Seeding is not
# timed (its duration is logged). Extra arguments go to `go test`
# (e.g. -benchtime 5x, -count 3).
set -euo pipefail
cd "$(dirname "$0")/.."

go test -run '^$' -bench '^BenchmarkPreview(Every)?$' -benchtime 20x -timeout 30m "$@" ./bench
go test -run '^$' -bench '^BenchmarkFullDelete$' -benchtime 3x -timeout 30m "$@" ./bench
