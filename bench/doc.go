// Package bench measures what bulkguard costs: latency per call, the tokens
// its tools/list spends of a model's context, Close API requests per delete,
// start-up time and memory, and behaviour at scale. Its tests are budget
// checks that run in CI with `go test ./...` (never timing assertions); its
// benchmarks and the programs under cmd/ produce the figures recorded in
// results.md. See README.md for how to run each.
package bench
